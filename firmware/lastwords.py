# The last words survive a reset: the reset cause and the last problem lines are kept in a small
# file on flash, so that "why did my board restart last night?" has an answer after the restart.
# Written only when problems were logged, at most every WRITE_EVERY_S, and at once before a
# crash restart: flash wears. A restart loop would write at every boot, so the file counts the
# writes made by young runs (under WRITE_EVERY_S of uptime) in a row: after EARLY of them, a
# run writes only once it has lasted WRITE_EVERY_S. At boot the previous run's file becomes
# lastwords.prev.json. The app imports this module only when there is something to do, and
# unloads it after.
import os

from firmware import console, store
from firmware.compat import const

FILE = "lastwords.json"
_PREVIOUS = const("lastwords.prev.json")
WRITE_EVERY_S = 600
EARLY = 3  # writes in a row by young runs: a restart loop's first three boots, then no more


def boot():
    """Keep the previous run's words; a line for the console about them, or None."""
    before = store.load(FILE)
    if before is None:
        return None
    try:
        os.rename(FILE, _PREVIOUS)
    except OSError:
        pass
    lines = before.get("lines")
    last = lines[-1] if type(lines) is list and lines and type(lines[-1]) is str else None
    cause = before.get("cause")
    return "lastwords: the previous run began by %s; its last problem: %s" % (
        cause if type(cause) is str else "?",
        last[:120] if last else "none",
    )


def keep(cause):
    """Save the recent problem lines and this run's reset cause. True when saved; False when
    the flash refused, or when this young run is one more of a restart loop (see above)."""
    early = 0
    if console.uptime() < WRITE_EVERY_S:
        last = _words(FILE) or _words(_PREVIOUS)  # this run's words, else the previous run's
        early = last.get("early", 0) if last else 0
        if type(early) is not int or early >= EARLY:
            return False
        early += 1
    if store.save(FILE, {"cause": cause, "lines": console.recent, "early": early}):
        console.unsaved = 0
        return True
    return False


def _words(path):
    words, _ = store.read(path)  # a damaged file is said at boot, not again here
    return words


def previous():
    """The previous run's last words (for diag.status()), or None."""
    return store.load(_PREVIOUS)
