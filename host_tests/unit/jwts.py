# Building test JWTs on either runtime (no base64 module on MicroPython).
import binascii
import json


def b64url(data):
    if type(data) is str:
        data = data.encode()
    s = str(binascii.b2a_base64(data), "ascii").strip()
    return s.replace("+", "-").replace("/", "_").rstrip("=")


def make(
    aud="122446001637", exp=2000000000, iat=1700000000, role="owner", username="me@example.com"
):
    header = b64url(json.dumps({"kid": "t", "typ": "JWT", "alg": "ES256"}))
    claims = {
        "aud": aud,
        "iss": "Entrez",
        "enphaseUser": role,
        "exp": exp,
        "jti": "j",
        "username": username,
    }
    if iat is not None:
        claims["iat"] = iat
    return "%s.%s.%s" % (header, b64url(json.dumps(claims)), b64url(b"\x01\x02" * 32))
