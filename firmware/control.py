# The relay rules: pure decisions, no I/O, time (monotonic seconds) passed in.
# net_w is grid power, + import / - export, and includes the heater while the relay is on.
#   start: export >= heater power + start_margin_w, held for start_delay_s, and min_off_s passed
#   stop:  import > max_import_w, held for stop_delay_s, and min_on_s passed
#   stale: no reading, or none fresher than stale_s -> OFF at once, whatever min_on_s says

# Reasons are short words so console lines stay key=value; describe() adds the numbers.
STALE = "stale"
NO_DATA = "no-data"
SURPLUS = "surplus"
DIVERTING = "diverting"
WAIT_START = "waiting-start"
LOW_EXPORT = "low-export"
MIN_OFF = "min-off"
IMPORT = "import"
WAIT_STOP = "waiting-stop"
MIN_ON = "min-on"


class Control:
    def __init__(self, c, now):
        self.margin = c["start_margin_w"]
        self.max_import = c["max_import_w"]
        self.start_delay = c["start_delay_s"]
        self.stop_delay = c["stop_delay_s"]
        self.min_on = c["min_on_s"]
        self.min_off = c["min_off_s"]
        self.stale_s = c["stale_s"]
        # Boot counts as switching off, so a board stuck in a reboot loop cannot cycle the relay.
        self.changed_at = now
        self._export_since = None
        self._import_since = None

    def switched(self, now):
        """The relay changed (by this logic, a boost or a manual override)."""
        self.changed_at = now
        self._export_since = None
        self._import_since = None

    def decide(self, now, net_w, age_s, relay_on, heater_w):
        """-> (on, reason). age_s: seconds since the last fresh reading, None if there is none."""
        if net_w is None or age_s is None:
            self._export_since = self._import_since = None
            return False, NO_DATA
        if age_s > self.stale_s:
            self._export_since = self._import_since = None
            return False, STALE
        if relay_on:
            self._export_since = None
            if net_w <= self.max_import:
                self._import_since = None
                return True, DIVERTING
            if self._import_since is None:
                self._import_since = now
            if now - self._import_since < self.stop_delay:
                return True, WAIT_STOP
            if now - self.changed_at < self.min_on:
                return True, MIN_ON
            return False, IMPORT
        self._import_since = None
        if -net_w < heater_w + self.margin:
            self._export_since = None
            return False, LOW_EXPORT
        if self._export_since is None:
            self._export_since = now
        if now - self._export_since < self.start_delay:
            return False, WAIT_START
        if now - self.changed_at < self.min_off:
            return False, MIN_OFF
        return True, SURPLUS

    def describe(self, reason, now, net_w, age_s, heater_w):
        """The numbers behind a reason, as key=value text for the console."""
        need = heater_w + self.margin
        if reason in (NO_DATA, STALE):
            return "age_s=%d" % age_s if age_s is not None else ""
        if reason in (SURPLUS, LOW_EXPORT):
            return "export_w=%d need_w=%d" % (-net_w, need)
        if reason == WAIT_START:
            return "export_w=%d need_w=%d held_s=%d/%d" % (
                -net_w,
                need,
                now - self._export_since,
                self.start_delay,
            )
        if reason == MIN_OFF:
            return "export_w=%d left_s=%d" % (-net_w, self.min_off - (now - self.changed_at))
        if reason == IMPORT:
            return "import_w=%d max_w=%d" % (net_w, self.max_import)
        if reason == WAIT_STOP:
            return "import_w=%d max_w=%d held_s=%d/%d" % (
                net_w,
                self.max_import,
                now - self._import_since,
                self.stop_delay,
            )
        if reason == MIN_ON:
            return "import_w=%d left_s=%d" % (net_w, self.min_on - (now - self.changed_at))
        return "net_w=%d" % net_w
