# Parsing Envoy replies into the one number we need: net grid power in watts, positive = import.
# Pure functions on parsed JSON; each firmware quirk is named where it is handled. The replies are
# untrusted: every field used is checked for its type and range (a bool is not a number).
# Fixture folders under tools/fixtures/envoy show every case. The Envoy's paths and errors live
# here, below envoy.py and its setup, which both use them.
from firmware.compat import const

NET = "net-consumption"
TOTAL = "total-consumption"
PRODUCTION = "production"

NO_CT = "this Envoy has no consumption CT: net power is unavailable; the relay stays OFF"
MAX_W = 1e9  # a reading beyond this many watts is junk, not power


INFO = "/info"  # XML, no auth: firmware version and serial
CHECK_JWT = "/auth/check_jwt"  # "Valid token." and a sessionId cookie
METERS = "/ivp/meters"  # which CT measures what, by eid
READINGS = "/ivp/meters/readings"  # all meters; /ivp/meters/readings/<eid> for one
PRODUCTION_JSON = "/production.json"  # fallback for firmware without /ivp/meters; chunked


class EnvoyError(Exception):
    """A transient problem: retry later."""


class AuthError(EnvoyError):
    """The Envoy refused the token: a 401/403, or a redirect to its login page."""


class PinMismatch(EnvoyError):
    """The Envoy showed another certificate than the pinned one; nothing was sent. recheck:
    not judged yet; a probe (its /info, nothing secret) tells a firmware update from another."""

    recheck = False


class Downgrade(PinMismatch):
    """Only plain HTTP answers where an Envoy was pinned or spoke HTTPS: an impostor or a
    downgrade. Refused before anything secret is sent, like a changed certificate."""


class NoNetPower(Exception):
    """The Envoy cannot give net power (no consumption CT, or not metered). Not transient."""


class BadReply(ValueError):
    """A reply of the right kind (a meter list...) holding junk: not old firmware, just wrong."""


class Glitch(ValueError):
    """A well-formed reply whose data is a known firmware bug, told by its signature, not by the
    firmware version (neighbouring builds share the bugs): no reading this time, never 0 W."""


def needs_token(version):
    # Firmware 7.0 and newer serve HTTPS and want the Entrez JWT; older firmware needs none.
    return version >= (7,)


def is_eid(v):
    return type(v) is int and 0 <= v <= 0xFFFFFFFF


def watts(v):
    # Watts as the Envoy wrote them, or None: NaN, infinities and bools are not power.
    return v if type(v) in (int, float) and -MAX_W < v < MAX_W else None


def stamp(v):
    # The meter's timestamp (Unix seconds) as an int, or None when there is none usable.
    return int(v) if type(v) in (int, float) and -1e12 < v < 1e12 else None


def eids(plan):
    return plan[1:]


# -- the fast path ----------------------------------------------------------------------------
# scan_reading reads the three fields it needs straight from the reply's bytes. It walks the whole
# reply as strict JSON (RFC 8259) so that it either finds exactly what json.loads would, or gives
# up; it never guesses. A few hundred bytes allocated per poll instead of ~7 KB of objects.

_VALUE = const(0)  # a value must come
_VALUE_OR_END = const(1)  # after "[": a value or "]"
_KEY = const(2)  # after "," in an object
_KEY_OR_END = const(3)  # after "{": a key or "}"
_NEXT = const(4)  # after a value: "," or the end of its container
_COLON = const(5)  # after a key
_DONE = const(6)  # after the top-level object: only whitespace
_MAX_DEPTH = const(8)
_MAX_NUMBER = const(24)  # the longest number literal taken, in bytes


def scan_reading(buf, n, eid, phases=0):
    """(activePower, timestamp or None) from the bytes of /ivp/meters/readings/<eid>, exactly as
    reading(json.loads(...), eid, phases) would give them; None when the reply is not one plain
    JSON object naming this meter with a numeric activePower (anything unusual, a glitch
    included): then parse it fully."""
    n = min(n, len(buf))
    e0 = e1 = p0 = p1 = t0 = t1 = v0 = v1 = 0  # where eid, activePower, timestamp, voltage are
    objects = depth = field = i = 0  # objects: bit d set when the container at depth d is one
    chan = phase = zero = live = 0  # in "channels" (2: its list is open), channel, 0 V, live
    state = _VALUE
    while True:
        while i < n:
            c = buf[i]
            if c != 32 and c != 10 and c != 13 and c != 9:  # not whitespace
                break
            i += 1
        else:
            break  # the end of the reply
        if state == _DONE or depth == 0 and c != 123:  # one object, nothing after it
            return None
        if state == _COLON:
            if c != 58:
                return None
            state = _VALUE
            i += 1
            continue
        if state == _NEXT:
            if c == 44:  # ","
                state = _KEY if objects >> depth & 1 else _VALUE
                i += 1
                continue
            if c != (125 if objects >> depth & 1 else 93):  # not this container's end
                return None
        elif state >= _KEY:
            if c != 125 or state != _KEY_OR_END:
                j = _string_end(buf, i, n) if c == 34 else -1
                if j < 0:
                    return None
                field = 0
                if depth == 3 and chan == 2:  # a channel's key: only its voltage matters
                    if buf.find(b"\\", i, j) >= 0:
                        return None
                    if j - i == 9 and buf.find(b'"voltage"', i, j) == i:
                        field = 6
                elif depth == 1:
                    if buf.find(b"\\", i, j) >= 0:
                        return None  # an escaped top-level key could spell one we want
                    k = j - i
                    if k == 5 and buf.find(b'"eid"', i, j) == i:
                        field = 1
                    elif k == 13 and buf.find(b'"activePower"', i, j) == i:
                        field = 2
                    elif k == 11 and buf.find(b'"timestamp"', i, j) == i:
                        field = 3
                    elif k == 9 and buf.find(b'"voltage"', i, j) == i:
                        field = 4
                    elif k == 10 and buf.find(b'"channels"', i, j) == i:
                        if chan:
                            return None  # twice: json.loads keeps the last
                        field = 5
                i = j
                state = _COLON
                continue
        elif c != 93 or state != _VALUE_OR_END:
            if c == 123 or c == 91:  # "{" or "["
                if field == 5 and c == 91:
                    chan, field = 2, 0  # the channels' list
                elif field or depth >= _MAX_DEPTH:
                    return None
                elif depth == 2 and chan == 2:
                    phase += 1  # a channel's object
                depth += 1
                if c == 123:
                    objects |= 1 << depth
                    state = _KEY_OR_END
                else:
                    objects &= ~(1 << depth)
                    state = _VALUE_OR_END
                i += 1
                continue
            if c == 34:
                j = _string_end(buf, i, n)
            elif c == 116 or c == 102 or c == 110:  # true, false, null
                word = b"true" if c == 116 else b"false" if c == 102 else b"null"
                j = i + len(word) if buf.find(word, i, i + len(word)) == i else -1
            else:
                j = _number_end(buf, i, n)
                if 0 < j - i <= _MAX_NUMBER:
                    if field == 1:
                        e0, e1 = i, j
                    elif field == 2:
                        p0, p1 = i, j
                    elif field == 3:
                        t0, t1 = i, j
                    elif field == 4:
                        v0, v1 = i, j
                    elif field == 6 and phase <= phases:
                        if _is_zero(buf, i, j):
                            zero = 1
                        else:
                            live = 1
                    field = 0
            if j < 0 or field:  # broken, or a field we need holding a string or a literal
                return None
            i = j
            state = _NEXT
            continue
        depth -= 1  # the end of a container
        if depth == 1 and chan == 2:
            chan = 1  # the channels' list is over
        i += 1
        state = _NEXT if depth else _DONE
    if state != _DONE or not e1 or not p1:
        return None
    v = _number(buf, e0, e1)
    if type(v) is not int or v != eid:
        return None  # an eid is an integer: 5.0 and 5E0 are not meter 5
    p = watts(_number(buf, p0, p1))
    if p is None or p == 0 and v1 and _is_zero(buf, v0, v1) or phases > 1 and zero and live:
        return None  # the full parse names it (a Glitch)
    return p, stamp(_number(buf, t0, t1)) if t1 else None


def _string_end(buf, i, n):
    # The index after the string that starts at i, or -1. Printable ASCII and JSON escapes only:
    # anything else is for the full parse to judge.
    i += 1
    while i < n:
        c = buf[i]
        if c == 34:
            return i + 1
        if c == 92:
            i += 1
            if i >= n:
                return -1
            c = buf[i]
            if c == 117:  # \uXXXX
                if i + 4 >= n:
                    return -1
                for k in range(i + 1, i + 5):
                    if buf[k] not in b"0123456789abcdefABCDEF":
                        return -1
                i += 4
            elif c not in b'"\\/bfnrt':
                return -1
        elif c < 32 or c > 126:
            return -1
        i += 1
    return -1


def _number_end(buf, i, n):
    # -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? : the index after it, or -1
    if i < n and buf[i] == 45:
        i += 1
    part = 0  # 0: the integer part, 1: the fraction, 2: the exponent
    while True:
        start = i
        while i < n and 48 <= buf[i] <= 57:
            i += 1
        if i == start or part == 0 and buf[start] == 48 and i > start + 1:
            return -1  # no digits, or a leading zero
        c = buf[i] if i < n else 0
        if part == 0 and c == 46:
            part = 1
        elif part < 2 and (c == 101 or c == 69):
            part = 2
            if i + 1 < n and (buf[i + 1] == 43 or buf[i + 1] == 45):
                i += 1
        else:
            return i
        i += 1


def _is_zero(buf, i, j):
    # The number literal buf[i:j] is zero (-0.0, 0, 0e5): no digit but 0 before any exponent.
    # Read where it lies: no float made.
    for k in range(i, j):
        c = buf[k]
        if 49 <= c <= 57:
            return False
        if c == 101 or c == 69:
            break
    return True


def _number(buf, i, j):
    # As json.loads reads a number: an int without a fraction or exponent, else a float.
    s = buf[i:j]
    if buf.find(b".", i, j) < 0 and buf.find(b"e", i, j) < 0 and buf.find(b"E", i, j) < 0:
        return int(s)
    return float(s)


# -- the Ensemble's replies (home batteries, ensemble.py and battery.py): a number by its key


def number_after(buf, n, key, start=0):
    """The number that follows key (a quoted name: b'"agg_soc"') and its colon in buf[:n], or
    None."""
    i = buf.find(key, start, n)
    if i < 0:
        return None
    i = _skip(buf, i + len(key), n)
    if i >= n or buf[i] != 58:  # ":"
        return None
    i = _skip(buf, i + 1, n)
    j = _number_end(buf, i, n)
    return watts(_number(buf, i, j)) if 0 < j - i <= 24 else None


def has_items(buf, n, key):
    """True when key (quoted) names a non-empty list in buf[:n]."""
    i = buf.find(key, 0, n)
    if i < 0:
        return False
    i = _skip(buf, i + len(key), n)
    if i >= n or buf[i] != 58:
        return False
    i = _skip(buf, i + 1, n)
    if i >= n or buf[i] != 91:  # "["
        return False
    i = _skip(buf, i + 1, n)
    return i < n and buf[i] != 93  # "]"


def _skip(buf, i, n):
    while i < n and buf[i] in b" \t\r\n":
        i += 1
    return i
