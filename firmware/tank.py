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
# one; it is back after CONFIRM good readings in a row, said in a line.
# Tank glues the sensor to the rules (tank_rules.py), keeps the legionella record (tank.json, on
# change only: at most once a day) and checks the heater model's "tank hot" guess.
from firmware import console, store
from firmware.compat import const
from firmware.tank_rules import Rules

READ_S = const(5)
CONVERT_S = 0.75
TRIES = const(3)
FAILED_S = const(30)
CONFIRM = const(3)
JUMP_K = const(5)
JUMP_S = const(30)
LOW_C = const(1)
HIGH_C = const(100)
POWER_ON_C = const(85)
COLD_C = const(40)  # below this no hot-water thermostat is open: the step's guess was wrong
WATCH_S = const(1200)  # after overruling it: the tank must warm by RISE_K within this time
RISE_K = 0.3
FILE = "tank.json"
MAX_DAY = const(100000)


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
        self.problem = None

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
                    self._bad(up, "no DS18B20 found on the bus")
                    return
                self.rom = roms[0]
            self.drv.convert_temp()
            self.started = up
        except MemoryError:
            raise
        except Exception as e:
            self._bad(up, _why(e))

    def _read(self, up):
        try:
            t = self.drv.read_temp(self.rom)
        except MemoryError:
            raise
        except Exception as e:
            self._bad(up, _why(e))
            return
        why = self._implausible(t, up)
        if why:
            self._bad(up, why)
            return
        self.last, self.last_at, self.bad = t, up, 0
        self.next_at = up + READ_S
        if self.c is None:
            self.good += 1
            if self.good < CONFIRM:
                self.next_at = up  # confirm at once
                return
            if self.failed:
                console.log("ok: recovered (tank sensor: tank_c=%.1f)" % t)
            self.failed, self.problem = False, None
        self.c, self.at = t, up

    def _implausible(self, t, up):
        if type(t) is not float and type(t) is not int:
            return "not a number: %r" % (t,)
        recent = self.last is not None and up - self.last_at <= JUMP_S
        if t == POWER_ON_C and not (recent and abs(self.last - t) <= 1):
            return "85.0 C, its power-on value: no conversion was made (check its power wire)"
        if not LOW_C <= t <= HIGH_C:
            return "%.1f C is out of range (%d to %d C)" % (t, LOW_C, HIGH_C)
        if recent and abs(t - self.last) > JUMP_K:
            return "a jump from %.1f to %.1f C in %d s" % (self.last, t, up - self.last_at)
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
            self.failed, self.problem = True, why
            console.problem(
                "tank: sensor failed on GPIO%d (%s); the thermostat and the learned heater power"
                " decide, as without a sensor" % (self.pin, why)
            )


def _why(e):
    text = str(e)
    if type(e).__name__ == "OneWireError":
        return "no device answers on the bus: check the wiring and the 4.7 kOhm pull-up"
    return (text or type(e).__name__)[:60]


def _day(saved):
    d = saved.get("legionella_day") if type(saved) is dict else None
    return d if type(d) is int and 0 <= d <= MAX_DAY else None


class Tank:
    def __init__(self, t, driver, up):
        """t: the config's tank section; driver: the board's DS18B20 driver (board.tank_sensor)."""
        self.t = t
        self.sensor = Sensor(driver, t["pin"], up)
        self.rules = Rules(t, self.load())
        self.watch = None  # (uptime, tank_c) when the sensor overruled a "tank hot" guess

    def load(self):
        return _day(store.load(FILE))

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
        elif up - w[0] >= WATCH_S:
            self.watch = None
            c = self.sensor.c
            if c is not None and c < w[1] + RISE_K:
                heater.drawing = False
                console.log(
                    "heater: tank_c=%.1f did not rise in %d min: the thermostat or cut-out is "
                    "open after all; no energy counted" % (c, WATCH_S // 60)
                )

    def want(self, local, power_w):
        """The policy, each pass: the reason to heat from the grid now (or None); the rules'
        `full` says whether diverting must stop."""
        r = self.rules
        r.update(local, self.sensor.c, power_w)
        if r.dirty and self.save(r.reached_day):
            r.dirty = False
        while r.notes:
            console.log(r.notes.pop(0))
        return r.heat

    def detail(self):
        return "tank_c=%.1f max_c=%g" % (self.sensor.c, self.rules.limit)

    def overrule(self, heater, up):
        """The heater model says the thermostat opened (tank hot). True when the sensor says it
        cannot have: the heater is then still heating."""
        c = self.sensor.c
        if c is None or c >= COLD_C:
            self.rules.thermostat_open()
            return False
        heater.drawing = True
        self.watch = (up, c)
        console.log(
            "heater: the step said tank hot (step_w=%s) but tank_c=%.1f: a load or the sun "
            "changed at that moment; still heating" % (heater.jump, c)
        )
        return True

    def status(self):
        s = self.sensor
        return {
            "tank_c": None if s.c is None else int(s.c * 10 + 0.5) / 10,
            "tank_sensor": s.state,
            "tank_problem": s.problem,
        }
