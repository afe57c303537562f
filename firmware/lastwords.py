# The last words survive a reset: the reset cause and the last problem lines are kept in a small
# file on flash, so that "why did my board restart last night?" has an answer after the restart.
# Written only when problems were logged, at most every WRITE_EVERY_S, and at once before a
# crash restart: flash wears. At boot the previous run's file becomes lastwords.prev.json.
# The app imports this module only when there is something to do, and unloads it after.
import os

from firmware import console, store

FILE = "lastwords.json"
PREVIOUS = "lastwords.prev.json"
WRITE_EVERY_S = 600


def boot():
    """Keep the previous run's words; a line for the console about them, or None."""
    before = store.load(FILE)
    if before is None:
        return None
    try:
        os.rename(FILE, PREVIOUS)
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
    """Save the recent problem lines and this run's reset cause. True when saved."""
    if store.save(FILE, {"cause": cause, "lines": console.recent}):
        console.unsaved = 0
        return True
    return False


def previous():
    """The previous run's last words (for diag.status()), or None."""
    return store.load(PREVIOUS)
