# The tank's temperature from a DS18B20 on the 1-Wire bus, loaded only when tank.pin is set.
# Sensor is a state machine over the board's driver (micropython-lib's ds18x20 API: scan(),
# convert_temp() starts a conversion without waiting, read_temp(rom) checks the CRC): a
# conversion is started in one pass and read in a later one, at least 750 ms on (12 bits), so the
# loop never waits for it. A reading every 5 s; a bad one is retried at once, at most TRIES in a
# row, then the sensor has failed (one line) and is tried every 30 s. Bad is: no device, a CRC
# error, 85.0 C (its power-on value: no conversion happened), anything outside 1-100 C (-127 is
# what some libraries report for a lost sensor; a data line shorted to ground reads 0.0 C with a
# valid CRC), and a jump of more than 5 K within 30 s (a 200-litre tank cannot: 3 kW heats it
# by 0.2 K a minute). A failed sensor gives no temperature, and everything works as without
# one; it is back after _CONFIRM good readings in a row, said in a line.
# Tank glues the sensor to the rules: every pass the max_c limit (with its hysteresis) and the
# end of a grid target at its temperature; once a minute tank_rules.py (loaded for it) on the
# state kept here (Plan, Target). It keeps the legionella record (tank.json, on change only: at
# most once a day) and checks the heater model's "tank hot" guess. What it says is worded by
# tank_say.py, loaded for the line: resident text would cost heap for good.
from firmware import store
from firmware.compat import const, unload

READ_S = const(5)
CONVERT_S = 0.75
TRIES = const(3)
FAILED_S = const(30)
_CONFIRM = const(3)
_JUMP_K = const(5)
_JUMP_S = const(30)
_LOW_C = const(1)
_HIGH_C = const(100)
_POWER_ON_C = const(85)
_HYST_K = const(2)  # full at the limit, diverting again below limit - _HYST_K
COLD_C = const(40)  # below this no hot-water thermostat is open: the step's guess was wrong
_WATCH_S = const(1200)  # after overruling it: the tank must warm by _RISE_K within this time
_RISE_K = const(0.3)
FILE = "tank.json"


def say(*what):
    """A line for the console, worded by tank_say.py (loaded for it, then dropped)."""
    from firmware import tank_say

    try:
        return tank_say.say(*what)
    finally:
        unload("firmware.tank_say")


def rules(name, *args):
    """A function of tank_rules.py, loaded for the call, then dropped."""
    from firmware import tank_rules

    try:
        return getattr(tank_rules, name)(*args)
    finally:
        unload("firmware.tank_rules", "firmware.clock_text")


class Sensor:
    def __init__(self, driver, pin, up):
        self.drv = driver
        self.pin = pin
        self.rom = None
        self.started = None  # uptime at which the conversion in progress began
        self.next_at = up
        self.c = None  # the temperature the rules use, None while unknown
        self.at = None
        self.last = self.last_at = None  # the last good reading: the jump check's reference
        self.bad = self.good = 0
        self.failed = False
        self.problem = None  # why it failed, in words, while it has

    @property
    def state(self):
        return "ok" if self.c is not None else ("failed" if self.failed else "starting")

    def step(self, up):
        if self.c is not None and up - self.at > 2 * READ_S + TRIES:
            self.c = None  # never an old temperature (the loop stalled)
        if self.started is not None:
            if up - self.started < CONVERT_S:
                return
            self.started = None
            self._read(up)
        if up >= self.next_at:
            self._start(up)

    def _start(self, up):
        try:
            if self.rom is None:
                roms = self.drv.scan()
                if not roms:
                    self._bad(up, ("none",))
                    return
                self.rom = roms[0]
            self.drv.convert_temp()
            self.started = up
        except MemoryError:
            raise
        except Exception as e:
            self._bad(up, ("error", e))

    def _read(self, up):
        try:
            t = self.drv.read_temp(self.rom)
        except MemoryError:
            raise
        except Exception as e:
            self._bad(up, ("error", e))
            return
        why = self._implausible(t, up)
        if why:
            self._bad(up, why)
            return
        self.last, self.last_at, self.bad = t, up, 0
        self.next_at = up + READ_S
        if self.c is None:
            self.good += 1
            if self.good < _CONFIRM:
                self.next_at = up  # confirm at once
                return
            if self.failed:
                say("recovered", t)
            self.failed, self.problem = False, None
        self.c, self.at = t, up

    def _implausible(self, t, up):
        if type(t) is not float and type(t) is not int:
            return ("nan", t)
        recent = self.last is not None and up - self.last_at <= _JUMP_S
        if t == _POWER_ON_C and not (recent and abs(self.last - t) <= 1):
            return ("85",)
        if not _LOW_C <= t <= _HIGH_C:
            return ("range", t)
        if recent and abs(t - self.last) > _JUMP_K:
            return ("jump", self.last, t, up - self.last_at)
        return None

    def _bad(self, up, why):
        self.bad += 1
        self.good = 0
        self.next_at = up  # a retry at once
        if self.bad < TRIES:
            return
        self.c = None
        self.rom = None  # look for it again: it may have been replaced
        self.next_at = up + FAILED_S
        if not self.failed:
            self.failed = True
            self.problem = say("failed", self.pin, why)


class Target:
    """A grid target's state (tank_rules.plan makes it)."""


class Plan:
    """The rules' state between the minutes tank_rules.py runs (tank_rules.plan makes it)."""


class Tank:
    def __init__(self, t, driver, up):
        """t: the config's tank section; driver: the board's DS18B20 driver (board.tank_sensor)."""
        self.t = t
        self.sensor = Sensor(driver, t["pin"], up)
        self.plan = rules("plan", Plan(), Target, t, self.load())
        self.watch = None  # (uptime, tank_c) when the sensor overruled a "tank hot" guess

    def load(self):
        saved = store.load(FILE)
        d = saved.get("legionella_day") if type(saved) is dict else None
        if type(d) is int and 0 <= d <= 100000:
            return d
        if saved is not None:
            say("record")
        return None

    def save(self, day):
        return store.save(FILE, {"legionella_day": day})

    @property
    def c(self):
        return self.sensor.c

    def poll(self, up, heater):
        """Every pass, before the decision: the sensor's state machine, and the watch."""
        self.sensor.step(up)
        w = self.watch
        if w is None:
            return
        if heater.drawing is not True:
            self.watch = None  # switched off, or a jump said the thermostat opened
        elif up - w[0] >= _WATCH_S:
            self.watch = None
            c = self.sensor.c
            if c is not None and c < w[1] + _RISE_K:
                heater.drawing = False
                say("cold", c, _WATCH_S // 60)

    def want(self, local, power_w):
        """Each pass: the reason to heat from the grid now, or None; and plan.full, whether
        diverting must stop."""
        p, c = self.plan, self.sensor.c
        minute = None if local is None else local // 60
        if p.targets and (minute != p.minute or (c is None) != p.blind):
            p.minute, p.blind = minute, c is None  # and when the sensor comes or goes
            rules("update", p, local, c, power_w)
        h = p.heat
        if h is not None and (c is None or c >= h.goal):  # at once, not at the next minute
            p.heat = None
            if c is not None:
                h.on, h.reached = False, h.deadline
                p.notes.append(("done", h, c))
        lim = p.limit
        p.full = bool(lim) and c is not None and (c >= lim or (p.full and c > lim - _HYST_K))
        if p.dirty and self.save(p.reached_day):
            p.dirty = False
        while p.notes:
            say("rule", p.leg_c, p.notes.pop(0))
        return None if p.heat is None else p.heat.reason

    def decide(self, policy, d, up, age, on, heater, local):
        """policy.Policy.decide's tank part: True when a grid target heats (d is set)."""
        heat = self.want(local, heater.power_w)
        r = policy.rules
        if heat and age is not None and age <= r.stale_s and heater.drawing is not False:
            if on or up - r.changed_at >= r.min_off:
                d.set(1, heat, "tank_c=%.1f" % self.sensor.c)
                return True
        if policy.boosting and self.enough():
            policy.boosting = False  # hot enough: the kWh need not go in
        return False

    def enough(self):
        """Hot enough that a kWh boost need not heat: at the limit, or at min_c."""
        p, c = self.plan, self.sensor.c
        return p.full or (p.min_c > 0 and c is not None and c >= p.min_c)

    def detail(self):
        return "tank_c=%.1f max_c=%g" % (self.sensor.c, self.plan.limit)

    def overrule(self, heater, up):
        """The heater model says the thermostat opened (tank hot). True when the sensor says it
        cannot have: the heater is then still heating."""
        c = self.sensor.c
        if c is None or c >= COLD_C:
            if [x for x in self.plan.targets if x.on]:
                rules("thermostat_open", self.plan, c)
                while self.plan.notes:
                    say("rule", self.plan.leg_c, self.plan.notes.pop(0))
            return False
        heater.drawing = True
        self.watch = (up, c)
        say("overruled", heater.jump, c)
        return True

    def status(self):
        s = self.sensor
        return {
            "tank_c": None if s.c is None else int(s.c * 10 + 0.5) / 10,
            "tank_sensor": s.state,
            "tank_problem": s.problem,
        }
