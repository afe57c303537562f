# jwt.py: claims, reasons for rejection, and the three shapes of an Entrez reply (both runtimes).
import json

from jwts import b64url, make
from support import contains, raises

from firmware import jwt


def test_decode_reads_the_claims():
    c = jwt.decode(make(exp=2000000000, iat=1968464000))
    assert c["exp"] == 2000000000 and c["iat"] == 1968464000
    assert c["aud"] == "122446001637" and c["enphaseUser"] == "owner"
    assert c["username"] == "me@example.com" and c["alg"] == "ES256"
    assert jwt.lifetime(c) == 31536000
    assert not jwt.is_installer(c)


def test_decode_tolerates_surrounding_whitespace():
    assert jwt.decode("  " + make() + "\n")["exp"] == 2000000000


def test_malformed_tokens_are_rejected_with_a_reason():
    good = make()
    h, c, s = good.split(".")
    cases = [
        ("abc", "3 parts"),
        (h + "." + c, "3 parts"),
        (h + ".." + s, "base64url"),
        (h + "." + c + "." + s + "!", "base64url"),
        (h + "." + b64url("not json") + "." + s, "not base64url JSON"),
        (h + "." + b64url("[1, 2]") + "." + s, "not JSON objects"),
        (h + "." + b64url(json.dumps({"aud": "x"})) + "." + s, "no expiry"),
        (h + "." + b64url(json.dumps({"exp": "soon"})) + "." + s, "no expiry"),
        (make(exp=100, iat=200), "iat"),
        (None, "not text"),
    ]
    for token, why in cases:
        contains(str(raises(ValueError, jwt.decode, token)), why)


def test_extract_raw_json_and_html_replies():
    t = make()
    assert jwt.extract(t) == t
    assert jwt.extract(t + "\n") == t
    assert jwt.extract(t.encode()) == t
    assert jwt.extract(json.dumps({"generation_time": 1, "token": t, "expires_at": 2})) == t
    page = (
        '<html><body><form><textarea name="accessToken" id="JWTToken" cols="30" rows="10" >'
        "%s</textarea></form></body></html>" % t
    )
    assert jwt.extract(page) == t
    assert jwt.extract("<textarea id='JWTToken'>\n  %s\n</textarea>" % t) == t


def test_extract_rejects_what_is_not_a_jwt():
    for reply, why in (
        ("Sorry, something went wrong", "not a JWT"),
        ("", "not a JWT"),
        ('{"message": "no"}', "without a token"),
        ("{broken", "broken JSON"),
        ("<html><body>Login</body></html>", "without a JWTToken"),
        ('<textarea id="JWTToken">not.a token</textarea>', "not a JWT"),
    ):
        contains(str(raises(ValueError, jwt.extract, reply)), why)


def test_seconds_left():
    c = jwt.decode(make(exp=2000000000))
    assert jwt.seconds_left(c, 2000000000 - 86400) == 86400
