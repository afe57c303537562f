# Strict JSON (RFC 8259) for config.json, the same on the board and on a PC. config.py (and the
# PC tools through it) and boot.py use it; the app unloads it after boot.
#
# Found by differential fuzzing (host_tests/fuzz): MicroPython's json accepts missing and
# trailing commas, a missing ':', a key without a value, mismatched brackets, non-text keys,
# leading zeros, "1.", raw control characters and unknown or short escapes in text, control
# characters after the value, and decodes a \u surrogate pair into other characters than
# CPython does; CPython's accepts NaN and Infinity. So the text is checked first, then parsed.
from firmware.compat import const

_MAX_DEPTH = const(16)
# the longest number, in characters (CPython refuses integers of over 4300 digits, MicroPython
# not)
_MAX_NUMBER = const(40)
_SPACE = const(b" \t\r\n")
_DIGITS = const(b"0123456789")
_ESCAPES = const(b'"\\/bfnrt')
_HEX = const(b"0123456789abcdefABCDEF")
_WORD = const(b"+-._0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def loads(data, limit):
    """The JSON value in data (bytes, at most limit of them), accepted and refused alike on
    both runtimes: ValueError says what is wrong and on which line."""
    import json

    if len(data) > limit:
        raise ValueError("over %d bytes; is it the right file?" % limit)
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]  # a byte-order mark, as some Windows editors write
    if not utf8(data):  # judged alike on both runtimes
        line = 1
        for part in data.split(b"\n"):
            if not utf8(part):
                break
            line += 1
        raise ValueError("not UTF-8 text (an invalid byte on line %d); save it as UTF-8" % line)
    check(data)
    return json.loads(str(data, "utf-8"))


def check(data):
    """Raise ValueError unless data (bytes) is one strict JSON value. Bytes, not str: indexing
    a non-ASCII str is slow on MicroPython."""
    stack = b""  # the closers of the open containers
    keys = []  # per open container: the keys an object has had (None for a list)
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
                keys.pop()
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
                keys.pop()
                want = b"," if stack else b""
                i += 1
                continue
            if comma >= 0:
                _fail(data, comma, "a trailing comma before '%s'" % chr(c))
        comma = -1
        if want[0] == 107 and c != 34:  # k, "
            _fail(data, i, "expected a key in double quotes but found %s" % _found(data, i))
        if c == 34:
            j = _string(data, i)
            if want[0] == 107:  # a key: once per object (json.loads would keep the last)
                _key(data, i, j, keys[-1])
            i = j
            want = b":" if want[0] == 107 else b"," if stack else b""
            continue
        if c == 123 or c == 91:  # { [
            if len(stack) >= _MAX_DEPTH:
                _fail(data, i, "nested more than %d deep" % _MAX_DEPTH)
            stack += b"}" if c == 123 else b"]"
            keys.append([] if c == 123 else None)
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


def _key(data, i, j, seen):
    # The key data[i:j] (a checked string, quotes included), unless seen has it already.
    import json

    key = data[i:j]
    key = json.loads(str(key, "utf-8")) if b"\\" in key else str(key[1:-1], "utf-8")
    if key in seen:
        from firmware.console import printable

        _fail(data, i, 'the key "%s" twice in one object' % printable(key))
    seen.append(key)


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
    if len(tok) > _MAX_NUMBER:
        _fail(data, i, "a number of over %d characters" % _MAX_NUMBER)
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


def utf8(data):
    """Whether data (bytes) is UTF-8 (RFC 3629): shortest forms only, no surrogates, at most
    U+10FFFF. MicroPython's decode() takes overlong forms, encoded surrogates and code points
    past U+10FFFF, which CPython refuses: this check judges alike on both (store.utf8 for the
    other readers of untrusted text)."""
    n = len(data)
    if not n or max(data) < 0x80:
        return True
    i = 0
    while i < n:
        c = data[i]
        i += 1
        if c < 0x80:
            continue
        # The sequence's length, and the range its second byte must lie in (RFC 3629 table).
        if 0xC2 <= c <= 0xDF:
            k, lo, hi = 1, 0x80, 0xBF
        elif c == 0xE0:
            k, lo, hi = 2, 0xA0, 0xBF
        elif c == 0xED:
            k, lo, hi = 2, 0x80, 0x9F
        elif 0xE1 <= c <= 0xEF:
            k, lo, hi = 2, 0x80, 0xBF
        elif c == 0xF0:
            k, lo, hi = 3, 0x90, 0xBF
        elif c == 0xF4:
            k, lo, hi = 3, 0x80, 0x8F
        elif 0xF1 <= c <= 0xF3:
            k, lo, hi = 3, 0x80, 0xBF
        else:
            return False
        if i + k > n or not lo <= data[i] <= hi:
            return False
        for j in range(i + 1, i + k):
            if not 0x80 <= data[j] <= 0xBF:
                return False
        i += k
    return True
