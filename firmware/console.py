# The serial console: one line per event, "HH:MM:SS message" with key=value fields so lines can be
# grepped. Secrets never reach this module: callers pass only what may be shown.
from firmware.compat import const, ticks_ms

_clock = None  # set by the app: returns "HH:MM:SS" local time, or None while the time is unknown
_uptime = None  # set by the app: the board's seconds since boot
_boot = ticks_ms()
recent = []  # the last problems, for diag.status() and the last words (lastwords.py)
unsaved = 0  # problems logged since the last words were saved
_RECENT = const(8)


def set_clock(fn, uptime=None):
    global _clock, _uptime
    _clock, _uptime = fn, uptime


def uptime():
    """The board's seconds since boot."""
    return _uptime() if _uptime else (ticks_ms() - _boot) // 1000


def stamp():
    t = _clock() if _clock else None
    return t if t else "+%ds" % uptime()


def log(msg):
    print(stamp(), msg)


def problem(msg):
    global unsaved
    line = "%s %s" % (stamp(), msg)
    print(line)
    unsaved += 1
    recent.append(line)
    if len(recent) > _RECENT:
        recent.pop(0)


def printable(text, limit=40):
    """Remote text (str or bytes) as the console may show it: printable ASCII only (anything
    else is "?", so that no newline forges a line and no escape code drives a terminal), at most
    limit characters, then "..."."""
    out = []
    for c in text[:limit]:
        if type(c) is int:  # bytes
            c = chr(c)
        out.append(c if " " <= c <= "~" else "?")
    if len(text) > limit:
        out.append("...")
    return "".join(out)
