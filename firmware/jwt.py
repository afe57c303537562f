# The Envoy access token: a JWT signed by Enphase (Entrez). We read its header and claims without
# verifying the signature; the Envoy does that. Claims used: exp, iat, aud (the Envoy serial),
# enphaseUser ("owner" or "installer") and username.
import binascii
import json

from firmware.compat import const
from firmware.console import printable
from firmware.store import text as utf8_text

MAX_TOKEN = 4096  # characters; an Entrez token is about 1 KB

_B64URL = const("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _b64url_decode(seg):
    # binascii wants the standard alphabet with padding.
    s = seg.replace("-", "+").replace("_", "/")
    return binascii.a2b_base64(s + "=" * (-len(s) % 4))


def looks_like(token):
    """Three non-empty base64url segments separated by dots."""
    if type(token) is not str:
        return False
    parts = token.split(".")
    if len(parts) != 3:
        return False
    for p in parts:
        if not p:
            return False
        for c in p:
            if c not in _B64URL:
                return False
    return True


def decode(token):
    """Header and claims of a JWT as one dict of claims (with "alg"); raises ValueError(reason)."""
    if type(token) is not str:
        raise ValueError("the token is not text")
    token = token.strip()
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("a token has 3 parts separated by dots, this one has %d" % len(parts))
    if not looks_like(token):
        raise ValueError("the token holds characters that base64url does not use")
    try:
        header = json.loads(utf8_text(_b64url_decode(parts[0])))
        claims = json.loads(utf8_text(_b64url_decode(parts[1])))
    except (ValueError, TypeError, RuntimeError):  # RuntimeError: CPython's RecursionError
        raise ValueError("the token's header or claims are not base64url JSON")
    if type(header) is not dict or type(claims) is not dict:
        raise ValueError("the token's header or claims are not JSON objects")
    exp = claims.get("exp")
    if type(exp) is not int:
        raise ValueError("the token has no expiry (exp)")
    iat = claims.get("iat")
    if iat is not None and (type(iat) is not int or iat > exp):
        raise ValueError("the token's issue time (iat) is not before its expiry")
    claims["alg"] = header.get("alg")
    for k, v in list(claims.items()):  # text from the cloud goes to the console
        if type(v) is str:
            claims[k] = printable(v, 64)
    return claims


def extract(reply):
    """The JWT inside an Entrez reply: the raw token, JSON {"token": ...}, or the legacy HTML
    page with <textarea id="JWTToken">. Raises ValueError(reason)."""
    if type(reply) is not str:
        reply = utf8_text(reply)  # UnicodeError, a ValueError
    text = reply.strip()
    if text[:1] == "{":
        try:
            obj = json.loads(text)
        except (ValueError, RuntimeError):  # RuntimeError: CPython's RecursionError
            raise ValueError("the token reply is broken JSON")
        text = obj.get("token") if type(obj) is dict else None
        if type(text) is not str:
            raise ValueError("the token reply is JSON without a token field")
        text = text.strip()
    elif text[:1] == "<":
        text = _from_textarea(text)
    if not looks_like(text):
        raise ValueError("the token reply is not a JWT (three base64url parts)")
    return text


def _from_textarea(html):
    i = html.find('id="JWTToken"')
    if i < 0:
        i = html.find("id='JWTToken'")
    if i < 0:
        raise ValueError("the token reply is an HTML page without a JWTToken field")
    start = html.rfind("<textarea", 0, i)
    gt = html.find(">", i)
    end = html.find("</textarea>", gt)
    if start < 0 or gt < 0 or end < 0:
        raise ValueError("the token reply's JWTToken field is broken")
    return html[gt + 1 : end].strip()


def seconds_left(claims, now):
    return claims["exp"] - now


def lifetime(claims):
    iat = claims.get("iat")
    return None if iat is None else claims["exp"] - iat


def is_installer(claims):
    return claims.get("enphaseUser") == "installer"
