# Getting an Envoy token from the Enphase cloud, by one of two paths:
#   owner: log in to Enlighten (login.json: a form POST, the password in the body, never the URL)
#          for a session id, then ask Entrez for a token for this Envoy serial (/tokens);
#   web:   Entrez's own web login (its /login form, then /entrez_tokens for the serial: an HTML
#          page with the token in a <textarea>), for when /tokens is gone (enlighten_web.py).
# The caller tries the path that worked last first; the other is the fallback when the first
# says its endpoint is gone, and the account guard counts it as a login (account.py).
# Since 2025 Enphase refuses requests without a User-Agent (403/406), so each one sends a
# browser-like one. A failure says what the cloud answered (its status and first bytes, secrets
# removed), so that Enphase's next change is diagnosable from the console.
# TLS to the cloud is verified against the bundled root CAs (firmware/certs/*.der), or the DER
# file in enlighten.ca_file (roots.ca_certificates). One TLS context serves every request.
# Messages never carry the password, the session id or the token.
import json

from firmware import jwt
from firmware.compat import tls_context, unload
from firmware.enlighten_http import FORM, CloudError, form, post, said, status_error

OWNER = "owner"
WEB = "web"


def cloud_tls(ca_file=""):
    """The TLS context (and its companion list, see compat.tls_context) that verifies the cloud:
    the root CAs read one at a time, so that a board never holds them all at once."""
    from firmware.roots import ca_certificates

    return tls_context(ca_certificates(ca_file))


# -- the owner's path: Enlighten's login.json, then Entrez's /tokens ----------------------------


def login(url, email, password, tls, timeout_s=None):
    """Enlighten login -> session id."""
    what = "Enlighten login"
    secrets = (password, email)
    body = form((("user[email]", email), ("user[password]", password)))
    r = post(url, body, FORM, tls, what, timeout_s)
    if r.status != 200:
        raise status_error(r, what, secrets, (404, 410))
    if r.html:
        raise CloudError(
            "locked",
            "%s: answered with a web page instead of data; the account may "
            "be locked after too many logins (wait, then it retries)%s" % (what, said(r, secrets)),
        )
    try:
        obj = json.loads(r.body)
    except ValueError:
        raise CloudError("reply", "%s: the reply is not JSON%s" % (what, said(r, secrets)))
    session = obj.get("session_id") if type(obj) is dict else None
    if type(session) is str and session:
        return session
    if type(obj) is dict and obj.get("isBlocked"):
        raise CloudError("locked", "%s: Enphase says the account is blocked" % what)
    raise CloudError(
        "mfa",
        "%s: no session id in the reply; multi-factor login is probably on. "
        "Turn it off, or paste a token in envoy.token%s" % (what, said(r, secrets)),
    )


def fetch_token(url, session_id, serial, email, tls, timeout_s=None):
    """Entrez: a token for this Envoy serial. The reply is the raw JWT (or JSON with "token",
    or a legacy HTML page with the JWT in a textarea)."""
    what = "Entrez token"
    secrets = (session_id, email)
    body = json.dumps({"session_id": session_id, "serial_num": serial, "username": email})
    r = post(url, body, "application/json", tls, what, timeout_s)
    if r.status != 200:
        raise status_error(r, what, secrets)
    try:
        return jwt.extract(r.body)
    except ValueError as e:
        raise CloudError("reply", "%s: %s%s" % (what, e, said(r, secrets)))


# -- both --------------------------------------------------------------------------------------


def get_token(cloud_cfg, serial, feed=None, timeout_s=None, tls=None, first=OWNER, another=None):
    """A token by the path `first` (OWNER or WEB), or by the other when that one's endpoint is
    gone and another() allows one more login (the account guard's say; None: always). feed() is
    called between requests (the watchdog). tls: a context from cloud_tls(), made early by a
    caller that cares where it lands in the heap. Returns (token, the path that gave it)."""
    if tls is None:
        tls = cloud_tls(cloud_cfg["ca_file"])
    paths = (first, WEB if first == OWNER else OWNER)
    for i in range(2):
        try:
            return _by(paths[i], cloud_cfg, serial, feed, timeout_s, tls), paths[i]
        except CloudError as e:
            if e.kind != "gone" or i or (another is not None and not another()):
                raise
        if feed:
            feed()


def _by(path, cfg, serial, feed, timeout_s, tls):
    email, password = cfg["email"], cfg["password"]
    if path == WEB:  # its code only when it is used
        from firmware import enlighten_web

        try:
            return enlighten_web.token(cfg, serial, feed, timeout_s, tls)
        finally:
            unload("firmware.enlighten_web")
    session = login(cfg["login_url"], email, password, tls, timeout_s)
    if feed:
        feed()
    return fetch_token(cfg["token_url"], session, serial, email, tls, timeout_s)
