# The relay rules: pure decisions, no I/O, time (monotonic seconds) passed in.
# net_w is grid power, + import / - export, and includes the heater while the relay is on.
# "Usable export" is what the heater could take from the surplus: the export without the heater,
# clipped to 0..heater power. X = max_import_w, the grid allowance (the one trade-off setting):
#   start: usable export >= heater power - X (the heater would import at most X) and its
#          average over about min_on_s (the run a start commits to) >= heater power - 2 X
#          (at least 100 W under: an average of real export never quite reaches the heater's),
#          held for start_delay_s, and min_off_s passed. The average keeps passing clouds from
#          starting runs that would import for most of min_on_s.
#   stop:  usable export averaged over about stop_delay_s (so one spike moves it little) below
#          heater power - 2 X (or half the start level, if higher), and min_on_s passed.
#   stale: no reading, or none fresher than stale_s -> OFF at once, whatever min_on_s says
# Averages are exponential: one number each, time-weighted, restarted after a gap in the data.
# Measured with tools.bench.replay against the best possible schedule (docs/benchmarks.md).

from firmware.compat import const

# Reasons are short words so console lines stay key=value; describe() adds the numbers.
STALE = "stale"
NO_DATA = "no-data"
SURPLUS = "surplus"
DIVERTING = "diverting"
WAIT_START = "waiting-start"
LOW_EXPORT = "low-export"
LOW_AVERAGE = "low-average"
MIN_OFF = "min-off"
IMPORT = "import"
MIN_ON = "min-on"

_GATE_MIN_W = const(100)  # X = 0: the start average may be this far under the heater's power


class Control:
    def __init__(self, c, now):
        self.max_import = c["max_import_w"]
        self.start_delay = c["start_delay_s"]
        self.stop_delay = c["stop_delay_s"]
        self.min_on = c["min_on_s"]
        self.min_off = c["min_off_s"]
        self.stale_s = c["stale_s"]
        # Boot counts as switching off, so a board stuck in a reboot loop cannot cycle the relay.
        self.changed_at = now
        self.usable = 0  # usable export of the last reading, W
        # Its averages over about stop_delay_s and min_on_s, in 1/16 W: integers, because a
        # float is a heap object on the board and this runs every poll.
        self._average = self._trend = None
        self._stop_ms = int(self.stop_delay * 1000)
        self._min_on_ms = int(self.min_on * 1000)
        self._at = None  # time of the last reading averaged
        self._export_since = None

    def switched(self, now):
        """The relay changed (by this logic, a boost or a manual override)."""
        self.changed_at = now
        self._export_since = None

    def _forget(self):
        self._average = self._trend = self._at = self._export_since = None

    @property
    def average(self):
        return self._average >> 4

    @property
    def trend(self):
        return self._trend >> 4

    def _observe(self, now, net_w, relay_on, heater_w):
        e = -int(net_w) + (heater_w if relay_on else 0)
        self.usable = e = 0 if e < 0 else (heater_w if e > heater_w else e)
        ms = 0 if self._at is None else int((now - self._at) * 1000)
        self._at = now
        self._average = _follow(self._average, e, ms, self._stop_ms)
        self._trend = _follow(self._trend, e, ms, self._min_on_ms)

    def _keep(self, heater_w):
        """The average usable export under which a run ends: heater - 2 X, but never under half
        the start level, so that a large allowance still ends runs when the sun has gone."""
        return max(heater_w - 2 * self.max_import, (heater_w - self.max_import) // 2)

    def _avg_start(self, heater_w):
        # An average of real export never quite reaches the heater's power: X = 0 needs slack.
        return min(self._keep(heater_w), heater_w - _GATE_MIN_W)

    def decide(self, now, net_w, age_s, relay_on, heater_w):
        """-> (on, reason). age_s: seconds since the last fresh reading, None if there is none."""
        if net_w is None or age_s is None:
            self._forget()
            return False, NO_DATA
        if age_s > self.stale_s:
            self._forget()
            return False, STALE
        heater_w = int(heater_w)
        self._observe(now, net_w, relay_on, heater_w)
        if relay_on:
            self._export_since = None
            if self._average >= self._keep(heater_w) << 4:
                return True, DIVERTING
            if now - self.changed_at < self.min_on:
                return True, MIN_ON
            return False, IMPORT
        if self.usable < heater_w - self.max_import:
            self._export_since = None
            return False, LOW_EXPORT
        if self._trend < self._avg_start(heater_w) << 4:
            self._export_since = None
            return False, LOW_AVERAGE
        if self._export_since is None:
            self._export_since = now
        if now - self._export_since < self.start_delay:
            return False, WAIT_START
        if now - self.changed_at < self.min_off:
            return False, MIN_OFF
        return True, SURPLUS

    def describe(self, reason, now, net_w, age_s, heater_w):
        """The numbers behind a reason, as key=value text for the console."""
        if reason in (NO_DATA, STALE):
            return "age_s=%d" % age_s if age_s is not None else ""
        start = heater_w - self.max_import
        if reason in (SURPLUS, LOW_EXPORT):
            return "usable_w=%d start_w=%d" % (self.usable, start)
        if reason == LOW_AVERAGE:
            return "usable_w=%d avg_w=%d avg_start_w=%d" % (
                self.usable,
                self.trend,
                self._avg_start(heater_w),
            )
        if reason == WAIT_START:
            return "usable_w=%d start_w=%d held_s=%d/%d" % (
                self.usable,
                start,
                now - self._export_since,
                self.start_delay,
            )
        if reason == MIN_OFF:
            return "usable_w=%d left_s=%d" % (self.usable, self.min_off - (now - self.changed_at))
        if reason in (IMPORT, MIN_ON, DIVERTING):
            # The heater's average import: its power less the usable export it takes.
            text = "avg_import_w=%d stop_w=%d" % (
                heater_w - self.average,
                heater_w - self._keep(heater_w),
            )
            if reason == MIN_ON:
                text += " left_s=%d" % (self.min_on - (now - self.changed_at))
            return text
        return "net_w=%d" % net_w


def _follow(average, value, ms, time_constant_ms):
    """An exponential average (1/16 W) after ms more of value (W); the first value starts it.
    Weights in 1/16384: small ints (no heap) for readings a second apart and heaters to 4 kW."""
    if average is None or ms >= time_constant_ms:
        return value << 4
    if ms <= 0:
        return average
    weight = (ms * 16384 + time_constant_ms // 2) // time_constant_ms
    return average + (((value << 4) - average) * weight >> 14)
