# Untrusted text judged alike on the board and the PC (issue 20), both runtimes: duplicate keys
# in config.json, invalid UTF-8 (MicroPython's decode() takes overlong forms, encoded surrogates
# and code points past U+10FFFF) in every reader of untrusted text, a float where a whole number
# is meant, and token claims that would forge console lines or drive a terminal.
import os

from jwts import b64url, make
from support import contains, raises, tmpdir
from test_config import good
from test_http_sec import INVALID

from firmware import config, jwt, roots, store, strictjson
from firmware.tokens import TokenKeeper

VALID = (
    b"\xc3\xa9",  # U+00E9
    b"\xe2\x82\xac",  # U+20AC
    b"\xed\x9f\xbf",  # U+D7FF, the last before the surrogates
    b"\xee\x80\x80",  # U+E000, the first after them
    b"\xef\xbf\xbf",  # U+FFFF
    b"\xf0\x9f\x98\x80",  # U+1F600
    b"\xf4\x8f\xbf\xbf",  # U+10FFFF, the last code point
)


def test_a_certificate_file_is_read_only_within_its_cap():
    # enlighten.ca_file or update.ca_file naming a log file, or a damaged one: refused by its
    # size, never read whole into the heap; a missing one said as such.
    os.chdir(tmpdir())
    with open("big.der", "wb") as f:
        f.write(b"\x30" * 5000)
    with open("root.der", "wb") as f:
        f.write(b"\x30" * 1400)
    e = raises(ValueError, list, roots.ca_certificates("big.der"))
    contains(str(e), "the certificate big.der: over 4096 bytes")
    e = raises(ValueError, list, roots.ca_certificates("gone.der"))
    contains(str(e), "the certificate gone.der: not found")
    assert list(roots.ca_certificates("root.der")) == [b"\x30" * 1400]


def test_duplicate_keys_are_refused_not_the_last_one_kept():
    for text in (
        b'{"a": 1, "a": 2}',
        b'{"a": 1, "\\u0061": 2}',  # the same key, escaped
        b'{"x": {"b": [], "c": 0, "b": {}}}',
        b'[{}, {"k": true, "k": false}]',
    ):
        e = raises(ValueError, strictjson.loads, text, 1000)
        contains(str(e), "twice in one object")
    assert strictjson.loads(b'{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}', 1000)["b"][1] == {
        "a": 2
    }
    raw = (
        b'{"wifi": {"ssid": "home"}, "heater": {"power_w": 2000, "relay_pin": 23, '
        b'"relay_pin": 4}, "envoy": {"host": "e"}}'
    )
    e = raises(ValueError, config.parse, raw)
    contains(str(e), 'the key "relay_pin" twice in one object on line 1')


def test_invalid_utf8_is_refused_alike_everywhere():
    for seq in VALID:
        assert store.utf8(b"a" + seq + b"z") and store.text(seq) == str(seq, "utf-8")
    os.chdir(tmpdir())
    for bad in INVALID:
        assert not store.utf8(b"a" + bad + b"z"), bad
        assert not store.utf8(b"abc" + bad), bad  # at the very end too
        raises(UnicodeError, store.text, bad)
        with open("state.json", "wb") as f:  # a file on flash
            f.write(b'{"note": "x' + bad + b'y"}')
        assert store.read("state.json") == (None, "not UTF-8"), bad
        e = raises(ValueError, strictjson.loads, b'{"wifi": {"ssid": "x' + bad + b'"}}', 1000)
        contains(str(e), "not UTF-8 text (an invalid byte on line 1)")
        header, _, sig = make().split(".")
        claims = b64url(b'{"exp": 2000000000, "username": "me' + bad + b'"}')
        raises(ValueError, jwt.decode, "%s.%s.%s" % (header, claims, sig))  # the token's claims
        page = b'<p>x%s</p><textarea id="JWTToken">%s</textarea>' % (bad, make().encode())
        raises(ValueError, jwt.extract, page)  # Entrez's reply
    assert jwt.extract(b"<p>\xc3\xa9</p><textarea id='JWTToken'>%s</textarea>" % make().encode())


def test_a_float_where_a_whole_number_is_meant_is_refused():
    raw = good()
    raw["heater"]["mains_hz"] = 50.0
    cfg, errors, _ = config.validate(raw)
    assert errors == ["heater.mains_hz: 50.0 is not one of 50, 60 (whole numbers)"], errors
    for section, keys in config.SCHEMA.items():
        for key, (kind, default, lo, _) in (keys or {}).items():  # None: tank_config's
            whole = kind in ("int", "gpio") or type(kind) is tuple and type(kind[0]) is int
            if not whole:
                continue
            raw = good()
            value = default if type(default) is int else lo
            if type(kind) is tuple:
                value = kind[0]
            raw.setdefault(section, {})[key] = float(value)
            cfg, errors, _ = config.validate(raw)
            assert [x for x in errors if x.startswith("%s.%s:" % (section, key))], (key, errors)


def test_token_claims_reach_the_console_printable_and_bounded():
    evil = "me@example.com\n12:00:00 relay=on reason=surplus\x1b[2J\x1b]0;owned\x07" + "x" * 300
    claims = jwt.decode(make(aud="1224\r\n46001637", role="owner\x1b[31m", username=evil))
    for k in ("aud", "enphaseUser", "username"):
        v = claims[k]
        assert all(" " <= c <= "~" for c in v) and len(v) <= 67, (k, v)
    k = TokenKeeper({"token": make(aud="12\n34\x1b[2J")}, {"email": "", "password": ""})
    os.chdir(tmpdir())
    line = k.load()
    assert "\n" not in line and "\x1b" not in line, line


def test_text_beyond_ascii_loads_the_check_only_for_it():
    import sys

    from firmware.compat import unload

    unload("firmware.strictjson")
    assert store.utf8(b"plain ASCII") and "firmware.strictjson" not in sys.modules
    assert store.utf8(b"caf\xc3\xa9") and not store.utf8(b"caf\xc0\xa9")
    assert "firmware.strictjson" not in sys.modules  # loaded for it, then unloaded
    from firmware import strictjson as again  # noqa: F401 (loaded: kept loaded)

    assert store.utf8(b"caf\xc3\xa9") and "firmware.strictjson" in sys.modules
