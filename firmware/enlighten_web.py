# Entrez's web login, the second path to an Envoy token (enlighten.py tries it when the owner's
# path says its endpoint is gone, or first when it worked last): its /login form, then
# /entrez_tokens for the serial, whose HTML page holds the token in a <textarea> (as Home
# Assistant's Envoy installer integration does since May 2026). Loaded only when used.
from firmware import jwt
from firmware.enlighten_http import FORM, CloudError, form, post, said, status_error
from firmware.urls import split_url


def token(cfg, serial, feed, timeout_s, tls):
    email, password = cfg["email"], cfg["password"]
    cookies = web_login(entrez_url(cfg["token_url"], "/login"), email, password, tls, timeout_s)
    if feed:
        feed()
    url = entrez_url(cfg["token_url"], "/entrez_tokens")
    return web_token(url, cookies, serial, tls, timeout_s)


def entrez_url(token_url, path):
    """Entrez's web pages live beside its /tokens endpoint: the same https://host[:port]."""
    host, port, _ = split_url(token_url)
    return "https://%s%s%s" % (host, "" if port == 443 else ":%d" % port, path)


def web_login(url, email, password, tls, timeout_s=None):
    """Entrez's login form -> its session cookies. A good login redirects (or shows the token
    page); a wrong one shows the login form again, with 200 or 401."""
    what = "Entrez web login"
    secrets = (password, email)
    r = post(url, form((("username", email), ("password", password))), FORM, tls, what, timeout_s)
    if r.status in (200, 302, 303) and r.cookies and "login" not in r.location:
        return r.cookies
    if r.status in (200, 302, 303, 401):
        return _web_refused(r, what, secrets)
    raise status_error(r, what, secrets)


def _web_refused(r, what, secrets):
    if r.status == 401 or not r.cookies or "login" in r.location:
        raise CloudError(
            "credentials", "%s: wrong e-mail or password%s" % (what, said(r, secrets))
        )
    raise CloudError("reply", "%s: an unexpected page%s" % (what, said(r, secrets)))


def web_token(url, cookies, serial, tls, timeout_s=None):
    """/entrez_tokens for this serial, with the login's cookies: the HTML page's textarea."""
    what = "Entrez token page"
    secrets = tuple(c.split("=", 1)[-1] for c in cookies)
    r = post(url, form((("serialNum", serial),)), FORM, tls, what, timeout_s, cookies)
    if r.status != 200:
        raise status_error(r, what, secrets)
    try:
        return jwt.extract(r.body)
    except ValueError as e:
        raise CloudError("gone", "%s: %s%s" % (what, e, said(r, secrets)))
