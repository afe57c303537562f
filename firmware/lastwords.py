# The last words survive a reset: the reset cause and the last problem lines are kept in a small
# file on flash, so that "why did my board restart last night?" has an answer after the restart.
# Written only when problems were logged, at most every WRITE_EVERY_S, and at once before a
# crash restart: flash wears. At boot the previous run's file becomes lastwords.prev.json.
import os

from firmware import console, store

FILE = "lastwords.json"
PREVIOUS = "lastwords.prev.json"
WRITE_EVERY_S = 600


class LastWords:
    def __init__(self, cause):
        self.cause = cause  # why this run began (the board's reset cause)
        self.next_write = 0

    def boot(self):
        """Keep the previous run's words; a line for the console about them, or None."""
        before = store.load(FILE)
        if type(before) is not dict:
            return None
        try:
            os.rename(FILE, PREVIOUS)
        except OSError:
            pass
        lines = before.get("lines")
        last = lines[-1] if type(lines) is list and lines and type(lines[-1]) is str else None
        return "lastwords: the previous run began by %s; its last problem: %s" % (
            before.get("cause") if type(before.get("cause")) is str else "?",
            last[:120] if last else "none",
        )

    def keep(self, up, now=False):
        """Save the recent problem lines if any came since the last save (and time allows)."""
        if not console.unsaved or (not now and up < self.next_write):
            return
        self.next_write = up + WRITE_EVERY_S
        if store.save(FILE, {"cause": self.cause, "lines": console.recent}):
            console.unsaved = 0


def previous():
    """The previous run's last words (for diag.status()), or None."""
    words = store.load(PREVIOUS)
    return words if type(words) is dict else None
