# Getting an Envoy token from the Enphase cloud: log in to Enlighten (form POST, the password in
# the body, never the URL) for a session id, then ask Entrez for a token for this Envoy serial.
# TLS to the cloud is verified against the bundled root CAs (firmware/certs/*.der), or the DER
# file in enlighten.ca_file (account.ca_certificates). One TLS context serves both requests.
# Messages never carry the password, the session id or the token.
import json

from firmware import jwt
from firmware.compat import tls_context
from firmware.http import CertificateError, Connection, HTTPError
from firmware.urls import split_url

TIMEOUT_S = 15


class CloudError(Exception):
    """kind: credentials, mfa, locked, server, network, certificate or reply."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def _quote(s):
    safe = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    out = []
    for b in s.encode():
        out.append(chr(b) if b in safe else "%%%02X" % b)
    return "".join(out)


def form(fields):
    """application/x-www-form-urlencoded, in the order given."""
    return "&".join("%s=%s" % (_quote(k), _quote(v)) for k, v in fields)


def cloud_tls(ca_file=""):
    """The TLS context (and its companion list, see compat.tls_context) that verifies the cloud:
    the root CAs read one at a time, so that a board never holds them all at once."""
    from firmware.account import ca_certificates

    return tls_context(ca_certificates(ca_file))


def _post(url, body, content_type, tls, what, timeout_s):
    host, port, path = split_url(url)
    conn = Connection(host, port, tls=True, cadata=True, timeout_s=timeout_s or TIMEOUT_S)
    conn.reuse((None, None, None) + tuple(tls))
    headers = [
        ("Content-Type", content_type),
        ("Accept", "application/json"),
        ("Connection", "close"),
    ]
    try:
        r = conn.request("POST", path, headers, body)
        return r.status, bytes(r.body), r.looks_like_html()
    except CertificateError as e:  # only the handshake's refusal of the certificate
        raise CloudError(
            "certificate", "%s: the server's certificate is not trusted (%s)" % (what, e)
        )
    except (HTTPError, ValueError) as e:
        raise CloudError("reply", "%s: broken reply (%s)" % (what, e))
    except OSError as e:
        why = e.args[1] if len(e.args) > 1 else (e.args[0] if e.args else e)
        raise CloudError("network", "%s: network error %s" % (what, why))
    finally:
        conn.close()


def _status_error(status, what):
    if status == 401:
        return CloudError("credentials", "%s: wrong e-mail or password (401)" % what)
    if status in (403, 429):
        return CloudError(
            "locked",
            "%s: refused (%d); the account may be locked after too many logins" % (what, status),
        )
    if status >= 500:
        return CloudError("server", "%s: Enphase's server failed (%d)" % (what, status))
    return CloudError("server", "%s: unexpected answer %d" % (what, status))


def login(url, email, password, tls, timeout_s=None):
    """Enlighten login -> session id."""
    what = "Enlighten login"
    body = form((("user[email]", email), ("user[password]", password)))
    status, reply, html = _post(
        url, body, "application/x-www-form-urlencoded", tls, what, timeout_s
    )
    if status != 200:
        raise _status_error(status, what)
    if html:
        raise CloudError(
            "locked",
            "%s: answered with a web page instead of data; the account may "
            "be locked after too many logins (wait, then it retries)" % what,
        )
    try:
        obj = json.loads(reply)
    except ValueError:
        raise CloudError("reply", "%s: the reply is not JSON" % what)
    session = obj.get("session_id") if type(obj) is dict else None
    if type(session) is str and session:
        return session
    if type(obj) is dict and obj.get("isBlocked"):
        raise CloudError("locked", "%s: Enphase says the account is blocked" % what)
    raise CloudError(
        "mfa",
        "%s: no session id in the reply; multi-factor login is probably on. "
        "Turn it off, or paste a token in envoy.token" % what,
    )


def fetch_token(url, session_id, serial, email, tls, timeout_s=None):
    """Entrez: a token for this Envoy serial. The reply is the raw JWT (or JSON with "token",
    or a legacy HTML page with the JWT in a textarea)."""
    what = "Entrez token"
    body = json.dumps({"session_id": session_id, "serial_num": serial, "username": email})
    status, reply, _ = _post(url, body, "application/json", tls, what, timeout_s)
    if status != 200:
        raise _status_error(status, what)
    try:
        return jwt.extract(reply)
    except ValueError as e:
        raise CloudError("reply", "%s: %s" % (what, e))


def get_token(cloud_cfg, serial, feed=None, timeout_s=None, tls=None):
    """Log in and fetch a token; feed() is called between the two steps (the watchdog). tls: a
    context from cloud_tls(), made early by a caller that cares where it lands in the heap."""
    if tls is None:
        tls = cloud_tls(cloud_cfg["ca_file"])
    session = login(
        cloud_cfg["login_url"], cloud_cfg["email"], cloud_cfg["password"], tls, timeout_s
    )
    if feed:
        feed()
    return fetch_token(cloud_cfg["token_url"], session, serial, cloud_cfg["email"], tls, timeout_s)
