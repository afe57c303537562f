# config.json: defaults, types and ranges. One dict of defaults that the user's file overrides
# (the mqtt_as way); every problem is reported as one line naming the key.
from firmware import pins
from firmware.clock import parse_window
from firmware.urls import split_host, split_url

REQUIRED = object()
DAY = 86400

# section -> key -> (kind, default, low, high). Kinds: "str", "int", "num", "bool", or a tuple
# of allowed strings. Keys starting with "_" are comments (see config.example.json).
SCHEMA = {
    "wifi": {
        "ssid": ("str", REQUIRED, 1, 32),
        "password": ("str", "", 0, 64),
    },
    "enlighten": {
        "email": ("str", "", 0, 254),
        "password": ("str", "", 0, 256),
        "login_url": ("url", "https://enlighten.enphaseenergy.com/login/login.json", 0, 0),
        "token_url": ("url", "https://entrez.enphaseenergy.com/tokens", 0, 0),
        "ca_file": ("str", "", 0, 128),
    },
    "envoy": {
        "host": ("host", REQUIRED, 0, 0),
        "serial": ("str", "", 0, 32),
        "token": ("token", "", 0, 0),
        "pin": ("pin", "tofu", 0, 0),
    },
    "heater": {
        "power_w": ("int", REQUIRED, 100, 12000),
        "relay_pin": ("gpio", REQUIRED, 0, 39),
        "active_high": ("bool", True, 0, 0),
    },
    "control": {
        "poll_s": ("num", 1, 0.2, 60),
        "start_margin_w": ("int", 100, 0, 5000),
        "max_import_w": ("int", 200, 0, 10000),
        "start_delay_s": ("num", 30, 0, DAY),
        "stop_delay_s": ("num", 60, 0, DAY),
        "min_on_s": ("num", 300, 0, DAY),
        "min_off_s": ("num", 300, 0, DAY),
        "stale_s": ("num", 30, 1, DAY),
    },
    "clock": {
        "utc_offset_min": ("int", 0, -720, 840),
        "dst": (("eu", "us", "none"), "none", 0, 0),
    },
    "boost": {
        "min_kwh": ("num", 0, 0, 100),
        "window": ("window", "", 0, 0),
    },
}

_TYPE_NAMES = {"str": "text", "int": "a whole number", "num": "a number", "bool": "true or false"}


def _json_type(v):
    if type(v) is bool:
        return "true/false"
    if type(v) is int or type(v) is float:
        return "a number"
    if type(v) is str:
        return "text"
    if v is None:
        return "null"
    return "a list" if type(v) is list else "an object"


def _check_special(kind, value):
    # -> error text or None, for the kinds with their own grammar
    try:
        if kind == "host":
            split_host(value)
        elif kind == "url":
            split_url(value)
        elif kind == "window":
            if value:
                parse_window(value)
        elif kind == "pin":
            if value not in ("tofu", "off"):
                v = value.replace(":", "").lower()
                if len(v) != 64 or any(c not in "0123456789abcdef" for c in v):
                    raise ValueError('expected "tofu", "off" or the 64 hex digits of a SHA-256')
        elif kind == "token":
            if value:
                from firmware import jwt

                jwt.decode(value)
        elif kind == "gpio":
            p = pins.problem(value)
            if p:
                raise ValueError(p)
    except ValueError as e:
        return str(e)
    return None


def _check(section, key, spec, value, errors, warnings):
    kind, _, lo, hi = spec
    name = "%s.%s" % (section, key)
    if type(kind) is tuple:
        if value not in kind:
            errors.append("%s: %r is not one of %s" % (name, value, ", ".join(kind)))
        return value
    want_str = kind in ("str", "host", "url", "window", "pin", "token")
    if want_str:
        if type(value) is not str:
            errors.append("%s: expected text, got %s" % (name, _json_type(value)))
            return value
        if kind == "str" and not lo <= len(value) <= hi:
            errors.append("%s: length %d is out of range (%d to %d)" % (name, len(value), lo, hi))
        elif kind != "str":
            problem = _check_special(kind, value)
            if problem:
                errors.append("%s: %s" % (name, problem))
        return value
    if kind == "bool":
        if type(value) is not bool:
            errors.append("%s: expected true or false, got %s" % (name, _json_type(value)))
        return value
    is_int = type(value) is int
    if not (is_int or (kind == "num" and type(value) is float)):
        want = "a whole number" if kind in ("int", "gpio") else "a number"
        errors.append("%s: expected %s, got %s" % (name, want, _json_type(value)))
        return value
    if kind == "gpio":
        problem = _check_special(kind, value)
        if problem:
            errors.append("%s: %s" % (name, problem))
        else:
            caution = pins.caution(value)
            if caution:
                warnings.append("%s: %s" % (name, caution))
        return value
    if not lo <= value <= hi:
        errors.append("%s: %s is out of range (%s to %s)" % (name, value, lo, hi))
    return value


def validate(raw):
    """raw: the parsed JSON. Returns (config with defaults applied, errors, warnings)."""
    errors, warnings = [], []
    if type(raw) is not dict:
        return None, ["config.json: expected an object {...} at the top level"], warnings
    cfg = {}
    for section in sorted(raw):
        if section[:1] != "_" and section not in SCHEMA:
            errors.append("%s: unknown section (a typo?)" % section)
    for section in sorted(SCHEMA):
        keys = SCHEMA[section]
        given = raw.get(section, {})
        if type(given) is not dict:
            errors.append("%s: expected an object {...}, got %s" % (section, _json_type(given)))
            given = {}
        for key in sorted(given):
            if key[:1] != "_" and key not in keys:
                errors.append("%s.%s: unknown key (a typo?)" % (section, key))
        out = {}
        for key in sorted(keys):
            spec = keys[key]
            if key in given:
                out[key] = _check(section, key, spec, given[key], errors, warnings)
            elif spec[1] is REQUIRED:
                errors.append("%s.%s: missing, and it has no default" % (section, key))
            else:
                out[key] = spec[1]
        cfg[section] = out
    _check_credentials(cfg, errors)
    _check_control(cfg, warnings)
    return cfg, errors, warnings


def _check_credentials(cfg, errors):
    cloud, envoy = cfg["enlighten"], cfg["envoy"]
    email, password = cloud.get("email"), cloud.get("password")
    if envoy.get("token"):
        return  # a pasted token: the cloud is never contacted
    if email and not password:
        errors.append("enlighten.password: missing; the board needs it to get the Envoy token")
    elif password and not email:
        errors.append("enlighten.email: missing; the board needs it to get the Envoy token")
    elif not email:
        errors.append(
            "enlighten.email and enlighten.password: missing; give your Enlighten login "
            "(or paste a token in envoy.token) so the board can talk to the Envoy"
        )
    elif "@" not in email:
        errors.append("enlighten.email: %r is not an e-mail address" % email)


def _check_control(cfg, warnings):
    c = cfg["control"]
    if type(c.get("stale_s")) in (int, float) and type(c.get("poll_s")) in (int, float):
        if c["stale_s"] < 2 * c["poll_s"]:
            warnings.append(
                "control.stale_s: %s s is under two polls (%s s each); one slow reply will "
                "switch the relay off" % (c["stale_s"], c["poll_s"])
            )


MAX_BYTES = 16384  # config.example.json, with its comments, is 3.4 KB
MAX_DEPTH = 16
MAX_NUMBER = 40  # characters; CPython refuses integers of over 4300 digits, MicroPython not
_SPACE = b" \t\r\n"
_DIGITS = b"0123456789"
_ESCAPES = b'"\\/bfnrt'
_HEX = b"0123456789abcdefABCDEF"
_WORD = b"+-._0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def load(path="config.json"):
    """Read and check config.json. Returns (config or None, errors, warnings)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError:
        return (
            None,
            ["%s: not found; copy config.example.json to %s and fill it in" % (path, path)],
            [],
        )
    try:
        raw = parse(data)
    except ValueError as e:
        return None, ["%s: %s" % (path, e)], []
    return validate(raw)


def parse(data):
    """The JSON value in data (bytes), accepted and rejected alike on the board and on a PC:
    ValueError says what is wrong and on which line."""
    import json

    if len(data) > MAX_BYTES:
        raise ValueError("over %d bytes; is it the right file?" % MAX_BYTES)
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]  # a byte-order mark, as some Windows editors write
    try:
        text = data.decode()
    except UnicodeError:
        line = 1
        for part in data.split(b"\n"):
            try:
                part.decode()
            except UnicodeError:
                break
            line += 1
        raise ValueError("not UTF-8 text (an invalid byte on line %d); save it as UTF-8" % line)
    check_json(data)
    return json.loads(text)


# Strict JSON (RFC 8259), checked before json.loads on both runtimes, so that the PC-side check
# and the board agree. Found by differential fuzzing (host_tests/fuzz): MicroPython's json
# accepts missing and trailing commas, a missing ':', a key without a value, mismatched
# brackets, non-text keys, leading zeros, "1.", raw control characters and unknown or short
# escapes in text, and decodes a \\u surrogate pair into other characters than CPython;
# CPython's accepts NaN and Infinity. Bytes, not str: indexing a non-ASCII str is slow there.
def check_json(data):
    stack = b""  # the closers of the open containers
    want = b"v"  # v: a value, k: a key (second byte: or that closer), ":", ",", b"": the end
    comma = -1  # where the comma just read is, for "a trailing comma"
    i, n = 0, len(data)
    while True:
        while i < n and data[i] in _SPACE:
            i += 1
        if i == n:
            if want == b"":
                return
            if stack:
                _fail(data, i, "the file ends before its closing '%s'" % chr(stack[-1]))
            _fail(data, i, "expected a value but found the end of the file")
        c = data[i]
        if want == b"":
            _fail(data, i, "more after the end of the JSON: %s" % _found(data, i))
        if want == b",":
            if c == 44:  # ,
                comma = i
                want = b"k" if stack[-1] == 125 else b"v"
            elif c == stack[-1]:
                stack = stack[:-1]
                want = b"," if stack else b""
            else:
                _fail(
                    data,
                    i,
                    "expected ',' or '%s' but found %s" % (chr(stack[-1]), _found(data, i)),
                )
            i += 1
            continue
        if want == b":":
            if c != 58:
                _fail(data, i, "expected ':' after a key but found %s" % _found(data, i))
            want = b"v"
            i += 1
            continue
        if c in b"]}":
            if len(want) == 2 and c == want[1]:
                stack = stack[:-1]
                want = b"," if stack else b""
                i += 1
                continue
            if comma >= 0:
                _fail(data, comma, "a trailing comma before '%s'" % chr(c))
        comma = -1
        if want[0] == 107 and c != 34:  # k, "
            _fail(data, i, "expected a key in double quotes but found %s" % _found(data, i))
        if c == 34:
            i = _string(data, i)
            want = b":" if want[0] == 107 else b"," if stack else b""
            continue
        if c == 123 or c == 91:  # { [
            if len(stack) >= MAX_DEPTH:
                _fail(data, i, "nested more than %d deep" % MAX_DEPTH)
            stack += b"}" if c == 123 else b"]"
            want = b"k}" if c == 123 else b"v]"
            i += 1
            continue
        if c == 45 or c in _DIGITS:  # -
            i = _number(data, i)
        elif data.startswith(b"true", i) or data.startswith(b"null", i):
            i += 4
        elif data.startswith(b"false", i):
            i += 5
        else:
            _fail(data, i, "expected a value but found %s" % _found(data, i))
        want = b"," if stack else b""


def _string(data, i):
    # -> the index after the closing quote
    j = i + 1
    while True:
        q = data.find(b'"', j)
        b = data.find(b"\\", j, q if q >= 0 else len(data))
        end = b if b >= 0 else q
        if end < 0:
            _fail(data, i, "text without its closing quote")
        if end > j and min(data[j:end]) < 32:
            _fail(data, i, "a line break or other control character inside text")
        if b < 0:
            return q + 1
        e = data[b + 1 : b + 2]
        if e == b"u":
            digits = data[b + 2 : b + 6]
            if len(digits) < 4 or any(d not in _HEX for d in digits):
                _fail(data, b, "a \\u escape without four hex digits")
            if 0xD800 <= int(digits, 16) <= 0xDFFF:
                _fail(
                    data,
                    b,
                    "a \\u%s escape (half of a pair): write the character itself"
                    % str(digits, "ascii"),
                )
            j = b + 6
        elif e and e[0] in _ESCAPES:
            j = b + 2
        elif not e:
            _fail(data, i, "text without its closing quote")
        else:
            _fail(data, b, "an unknown escape: a backslash inside text is written \\\\")


def _number(data, i):
    # -> the index after the number
    n = len(data)
    j = i
    while j < n and data[j] in b"+-.eE0123456789":
        j += 1
    tok = data[i:j]
    k = 1 if tok[0] == 45 else 0
    d = _digits(tok, k)
    ok = d > k and (tok[k] != 48 or d == k + 1)  # no leading zero
    if ok and d < len(tok) and tok[d] == 46:  # .
        e = _digits(tok, d + 1)
        ok, d = e > d + 1, e
    if ok and d < len(tok) and tok[d] in b"eE":
        d += 1
        if d < len(tok) and tok[d] in b"+-":
            d += 1
        e = _digits(tok, d)
        ok, d = e > d, e
    if not ok or d != len(tok):
        _fail(data, i, "a malformed number %s" % _found(data, i))
    if len(tok) > MAX_NUMBER:
        _fail(data, i, "a number of over %d characters" % MAX_NUMBER)
    return j


def _digits(tok, d):
    while d < len(tok) and tok[d] in _DIGITS:
        d += 1
    return d


def _found(data, i):
    # what is at i, the same text on both runtimes (no repr)
    if i >= len(data):
        return "the end of the file"
    j = i
    while j < len(data) and j - i < 16 and data[j] in _WORD:
        j += 1
    if j > i:
        return "'%s'" % str(data[i:j], "ascii")
    c = data[i]
    if 32 < c < 127:
        return "'%s'" % chr(c)
    return "a non-printing character" if c < 128 else "a non-ASCII character"


def _fail(data, i, what):
    raise ValueError("not valid JSON (%s on line %d)" % (what, data.count(b"\n", 0, i) + 1))
