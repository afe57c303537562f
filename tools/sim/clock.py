"""The simulated clock the simulator and the simulated board share (DIVERTER_SIM)."""

import os
import time


class SimClock:
    """Simulated time = start + (host time - anchor) * speed; the board uses the same numbers
    (environment variable DIVERTER_SIM), so both agree. virtual: the board's own clock leads
    instead (it moves only when the board sleeps, see firmware/board_sim.py) and the simulator
    reads it from the file the board keeps in the folder given to env()."""

    def __init__(
        self, speed: float = 1.0, start: float | None = None, virtual: bool = False
    ) -> None:
        self.speed = float(speed)
        self.anchor = time.time()
        self.start = float(start) if start is not None else self.anchor
        self.virtual = virtual
        self.folder: str | None = None

    def now(self) -> float:
        if not self.virtual:
            return self.start + (time.time() - self.anchor) * self.speed
        if self.folder is None:
            return self.start  # no board yet
        try:
            with open(os.path.join(self.folder, "time")) as f:
                return self.start + float(f.read())
        except (OSError, TypeError, ValueError):
            return self.start  # the board has not slept yet

    def env(self, folder: str, stop_after: float | None = None) -> str:
        """DIVERTER_SIM for the board; stop_after: virtual seconds after which it stops."""
        self.folder = folder
        return "speed=%s,start=%.3f,anchor=%.3f,dir=%s%s%s" % (
            self.speed,
            self.start,
            self.anchor,
            folder,
            ",clock=virtual" if self.virtual else "",
            ",stop=%d" % stop_after if stop_after else "",
        )
