from firmware.compat import const

# What the heater should do now: a manual override first, then the boost, then the automatic
# rules (control.py). Pure, like control.py: the time, the reading and the heater's state come in,
# a Decision goes out, and lines for the console are left in `notes`.
# The reasons of both rule sets (control.py, burst.py) when there is no fresh reading. Not
# imported from control.py: in burst mode that module is not loaded (heap).
STALE, NO_DATA = NO_READING = ("stale", "no-data")
MIN_OFF = "min-off"  # control.MIN_OFF: a forced ON that keeps the safety rules waits it out

MANUAL_ON = "manual-on"
MANUAL_OFF = "manual-off"
BOOST = "boost"
AUTO = "auto"
_TANK_MAX = const("tank-max")  # a tank sensor read max_c (tank.py: loaded only with a sensor)


class Decision:
    """power: the heater's share of its full power, 0 to 1 (a relay knows 0 and 1)."""

    def __init__(self):
        self.power = 0
        self.reason = "boot"
        self.detail = ""

    def set(self, power, reason, detail=""):
        self.power, self.reason, self.detail = power, reason, detail
        return self


class Policy:
    def __init__(self, rules, boost=None, tank=None):
        self.rules = rules  # a control.Control
        self.boost = boost  # a boost.Boost, or None when no boost is configured
        self.tank = tank  # a tank.Tank (a temperature sensor), or None
        self.mode = AUTO  # AUTO, MANUAL_ON or MANUAL_OFF
        self.until = None  # uptime at which MANUAL_ON ends
        self.guarded = False  # MANUAL_ON that keeps the safety rules (a remote command)
        self.boosting = False
        self.notes = []  # lines for the console, printed and cleared by the loop
        self.decision = Decision()

    # -- overrides (the REPL's diag helpers, and MQTT commands) --------------------------------

    def force_on(self, up, minutes, guarded=False):
        """guarded: the safety rules still apply (a command from afar, not a person at the
        board): no data or stale data keeps it OFF, min_off_s is waited out, and a hot tank
        (thermostat open, or a tank sensor at max_c) ends it."""
        self.mode, self.until, self.guarded = MANUAL_ON, up + minutes * 60, guarded

    def force_off(self):
        self.mode, self.until = MANUAL_OFF, None

    def auto(self):
        self.mode, self.until = AUTO, None

    def minutes_left(self, up):
        return None if self.until is None else max(0, int(self.until - up + 59) // 60)

    # -- the decision ---------------------------------------------------------------------------

    def decide(self, up, reading, on, heater, local=None, energy=None, why=None):
        """reading: link.Reading; on: the heater is on now; heater: heater.Heater; local: local
        wall-clock seconds, None while the clock is unknown; energy: energy.Energy (the boost
        counts against it); why: the reason there is no data (a link problem), if any."""
        d = self.decision
        if self.mode == MANUAL_OFF:
            return d.set(0, MANUAL_OFF)
        net = reading.net_w
        age = reading.age(up)
        b = reading.battery  # a home battery: the rules see the grid as battery.py adjusts it
        if b is not None and net is not None and age is not None:
            b.notes = self.notes
            net = b.adjust(up, net)
        else:
            b = None  # no data: the rules say so, not the battery
        rules = self.rules
        if self.mode == MANUAL_ON:
            if up >= self.until:
                self.auto()
                self.notes.append("manual: the forced ON time is over; back to auto")
            elif not self.guarded:
                return d.set(1, MANUAL_ON, "left_min=%d" % self.minutes_left(up))
            elif net is None or age is None or age > rules.stale_s:
                return d.set(0, why or (NO_DATA if age is None else STALE))
            elif on and heater.drawing is False:
                self.auto()
                self.notes.append("manual: the tank is hot (thermostat open); back to auto")
            elif self._tank_full(local, heater):
                self.auto()
                self.notes.append("manual: the tank is at max_c; back to auto")
            elif not on and up - rules.changed_at < rules.min_off:
                left = rules.min_off - (up - rules.changed_at)
                return d.set(0, MIN_OFF, "left_s=%d (forced ON waits)" % left)
            else:
                return d.set(1, MANUAL_ON, "left_min=%d" % self.minutes_left(up))
        self.boosting = self._boost(age, local, energy)
        t = self.tank  # its grid targets first; like the boost they need fresh data
        if t is not None and t.decide(self, d, up, age, on, heater, local):
            return d
        if self.boosting and heater.drawing is not False:
            if on or up - rules.changed_at >= rules.min_off:
                return d.set(1, BOOST, "to_go_kwh=%.2f" % (self.boost.remaining_wh / 1000))
        want, reason = rules.decide(up, net, age, on, heater.power_w)
        if why and reason in NO_READING:
            return d.set(0, why)  # the link's problem line says why
        if want and t is not None and t.plan.full:
            return d.set(0, _TANK_MAX, t.detail())  # the element's thermostat stays the last word
        said = reason if b is None else b.reason(want > 0, reason)
        if type(want) is not bool:  # burst.py: a share of full power; its numbers are not news
            return d.set(want, said)
        if want == on and reason not in NO_READING:
            return d.set(1 if want else 0, said)  # no change: no numbers needed
        detail = rules.describe(reason, up, net, age, heater.power_w)
        if b is not None:
            detail = b.describe(detail)
        return d.set(1 if want else 0, said, detail)

    def _tank_full(self, local, heater):
        # A tank sensor at max_c ends a forced ON that keeps the safety rules.
        t = self.tank
        if t is None:
            return False
        t.want(local, heater.power_w)  # plan.full, as this pass's sensor reading makes it
        return t.plan.full

    def _boost(self, age, local, energy):
        b = self.boost
        if b is None or local is None or age is None or age > self.rules.stale_s:
            return False
        active = b.active(local, energy.today_wh, energy.yesterday_wh)
        if b.note:
            self.notes.append(b.note)
            b.note = None
        return active
