"""Replay with a tank that has a temperature: the measured days (tools/data/traces) in a row,
through the firmware's own decision code with a tank sensor, against timers that do the same
blindly. What is measured: the grid energy the evening target (hot water by 18:00) and the
weekly legionella cycle take, and whether they are met.

    python -m tools.bench.replay_tank [--traces DIR | --trace FILE ...] [--litres 200]
        [--json FILE]

The tank (class Water): fully mixed, `litres` of water, a standing loss of 1.6 W/K to a 15 C
room (1.5 kWh a day at 55 C), draws at the tap of 60 litres at 40 C at 07:00 (10 min), 10 at
12:30 and 80 at 19:00 (30 min), mixed from the tank and cold water at 10 C (a tank under 40 C
delivers less: the missing heat is counted as "short"), and the element's thermostat (5 K
hysteresis). Days run one after the other, the tank's state carried over: the 11 consecutive
Swiss January days (from a Monday) and the 9 UK days (spring to summer) as a week and two days.
Each second the firmware reads the net power of that second (the replay's "exact" model), heater
2000 W, the control defaults.

Strategies:
- sensor: this firmware (firmware/policy.py, control.py, heater.py, tank.py, tank_rules.py as the
  diverter wires them; the DS18B20 read every 5 s to 1/16 K): max_c 60 (--max-c), min_c 45 by
  18:00, legionella_c 60 with legionella_window 12:00-16:00, the element's thermostat at 65 C;
- timers to the same temperatures: the diverter without a sensor, the element's thermostat at
  60 C (a weekly cycle to 60 C needs it there, so the surplus is stored up to 60 C too); a
  daily timer (16:00-18:00, or 15:00-18:00) heating while the tank is under 45 C (a thermostat
  of its own), and a weekly one on Sundays 12:00-16:00 heating it to 60 C: blind to what the
  sun did and will do;
- timer to 60 C: the daily timer with the element's thermostat alone (60 C), the usual setup;
- surplus only: the diverter and its thermostat at 60 C, no grid heat (what is missed).

"For targets" is the grid energy while a grid target or timer heats (for the sensor: reason
hot-by or legionella); "diverting" is the grid the relay rules' allowance takes
(control.max_import_w).
"""

import argparse
import glob
import json
import os
import sys

import numpy as np

from firmware import clock, console
from firmware.control import Control
from firmware.heater import Heater
from firmware.policy import Policy
from firmware.tank import Tank
from firmware.tank_rules import REARM_K
from tools.bench.house import load_trace
from tools.bench.replay import TRACES, settings

WH_PER_LITRE_K = 1.163
HEATER_W = 2000.0
DRAWS = ((7 * 3600, 600, 60.0), (12 * 3600 + 1800, 120, 10.0), (19 * 3600, 1800, 80.0))
TAP_C, COLD_C = 40.0, 10.0
TANK = {
    "pin": 4,
    "max_c": 60,
    "min_c": 45,
    "hot_by": "18:00",
    "litres": 200,
    "legionella_c": 60,
    "legionella_window": "12:00-16:00",
}
WEEKLY = (6, 12 * 3600, 16 * 3600)  # Sunday
SEQUENCES = (("batterysimu_ch_", clock.days_from_civil(2025, 1, 6)), ("openevse_uk_", None))
MONDAY = clock.days_from_civil(2025, 3, 3)  # the UK days run from a Monday
# name: (the daily timer's hours and temperature, the weekly timer's temperature); the sensor's
# are its config (TANK)
STRATEGIES = {
    "sensor": None,
    "timer 16-18 h to 45 C, Sundays to 60 C": ((16, 18), 45, 60),
    "timer 15-18 h to 45 C, Sundays to 60 C": ((15, 18), 45, 60),
    "timer 16-18 h to 60 C": ((16, 18), 60, None),
    "surplus only": ((16, 18), None, None),
}


class Water:
    """The tank's water: one temperature (fully mixed), heated, losing heat, drawn from."""

    def __init__(self, litres, c=45.0, thermostat_c=65.0, hysteresis_k=5.0):
        self.litres = litres
        self.c = c
        self.thermostat_c = thermostat_c
        self.hysteresis_k = hysteresis_k
        self.closed = True
        self.short_wh = 0.0  # heat the taps wanted and did not get (water under 40 C)

    def thermostat(self):
        if self.c >= self.thermostat_c:
            self.closed = False
        elif self.c <= self.thermostat_c - self.hysteresis_k:
            self.closed = True
        return self.closed

    def advance(self, seconds, heater_w, tod_s):
        cap = self.litres * WH_PER_LITRE_K  # Wh per K
        loss_w = 1.6 * (self.c - 15.0)
        self.c += (heater_w - loss_w) * seconds / 3600 / cap
        for start, length, tap_l in DRAWS:
            if start <= tod_s < start + length:
                want = tap_l / length * seconds  # litres at 40 C this step
                if self.c > TAP_C:
                    out = want * (TAP_C - COLD_C) / (self.c - COLD_C)
                else:
                    out = want
                    self.short_wh += want * (TAP_C - self.c) * WH_PER_LITRE_K
                self.c -= (self.c - COLD_C) * out / self.litres


class Probe:
    """A DS18B20 in the tank (ds18x20's API), 12 bits: 1/16 K."""

    def __init__(self, water):
        self.water = water

    def scan(self):
        return [b"\x28replay"]

    def convert_temp(self):
        pass

    def read_temp(self, rom):
        return round(self.water.c * 16) / 16


class ReplayTank(Tank):
    """firmware/tank.Tank with its legionella record kept in memory instead of on flash."""

    def __init__(self, t, water, up, reached_day):
        self._day = reached_day
        super().__init__(t, Probe(water), up)

    def load(self):
        return self._day

    def save(self, day):
        self._day = day
        return True


class Reading:
    """What link.Reading gives the policy: the net power, fresh each second."""

    battery = None

    def __init__(self):
        self.net_w = None
        self.fresh_at = None

    def age(self, up):
        return None if self.fresh_at is None else up - self.fresh_at


class Sensor:
    """The firmware with a tank sensor: Policy(Control, tank) as diverter.py wires it, the heater
    model's events as accounting.py handles them, switches as output.py makes them."""

    def __init__(self, cfg, water, now, reached_day, tank=TANK):
        self.control = Control(cfg["control"], now)
        self.heater = Heater(cfg["heater"]["power_w"])
        self.tank = ReplayTank(dict(tank, litres=water.litres), water, now, reached_day)
        self.policy = Policy(self.control, None, self.tank)
        self.reading = Reading()
        self.on = False

    def step(self, now, local, net):
        r, h = self.reading, self.heater
        r.net_w, r.fresh_at = net, now
        if self.on and h.observe(now, net, True) == "tank-hot":
            self.tank.overrule(h, now)
        self.tank.poll(now, h)
        d = self.policy.decide(now, r, self.on, h, local, None, None)
        self._switch(now, d.power > 0, net)
        return self.on, d.reason

    def _switch(self, now, on, net):
        if on != self.on:
            self.control.switched(now)
            self.heater.switched(now, on, net)
            self.on = on


class Timer(Sensor):
    """The diverter without a sensor, and timers: daily in `hours` while the tank is under
    daily_c, weekly (WEEKLY) to weekly_c; None: no such timer."""

    def __init__(self, cfg, water, now, hours, daily_c, weekly_c):
        self.control = Control(cfg["control"], now)
        self.heater = Heater(cfg["heater"]["power_w"])
        self.water = water
        self.hours = hours[0] * 3600, hours[1] * 3600
        self.daily_c, self.weekly_c = daily_c, weekly_c
        self.on = False

    def timer(self, local):
        tod, weekday = local % 86400, clock.weekday(local // 86400)
        c = self.water.c
        day, start, end = WEEKLY
        if self.weekly_c and weekday == day and start <= tod < end and c < self.weekly_c:
            return WEEKLY_TIMER
        if self.daily_c and self.hours[0] <= tod < self.hours[1] and c < self.daily_c:
            return DAILY_TIMER
        return None

    def step(self, now, local, net):
        h = self.heater
        if self.on:
            h.observe(now, net, True)
        reason = self.timer(local)
        if reason and h.drawing is not False:
            on = True
        else:
            on, reason = self.control.decide(now, net, 0, self.on, h.power_w)
        self._switch(now, on, net)
        return self.on, reason


def day_arrays(path):
    """Export (pv - load, W) for each second of the day: no PV outside the trace, the load held."""
    times, pv, load, _ = load_trace(path, 300.0)
    tt = np.arange(86400, dtype=float)
    pv_s = np.interp(tt, times, pv, left=0.0, right=0.0)
    load_s = np.interp(tt, times, load)
    return (pv_s - load_s).tolist()


DAILY_TIMER, WEEKLY_TIMER = "daily-timer", "weekly-timer"
EVENING = ("hot-by", DAILY_TIMER)  # the decisions' reasons
WEEKLY_CYCLE = ("legionella", WEEKLY_TIMER)


def run(strategy, days, first_day, cfg, litres, max_c=60):
    """One strategy over consecutive days (export arrays) from local day first_day. max_c: the
    sensor's (the timers need their element's thermostat at 60 C for the weekly cycle)."""
    water = Water(litres, thermostat_c=65.0 if strategy == "sensor" else 60.0)
    t0 = first_day * 86400
    timers = STRATEGIES[strategy]
    if timers is None:  # as if the last cycle was the day before
        fw = Sensor(cfg, water, t0, first_day - 1, dict(TANK, max_c=max_c))
    else:
        fw = Timer(cfg, water, t0, *timers)
    grid = {"evening": 0.0, "legionella": 0.0, "diverting": 0.0}
    surplus = 0.0
    met = []
    reached = [first_day - 1]
    gaps = []
    draw = 0.0
    for i, export in enumerate(days):
        day = first_day + i
        hot = False
        for tod in range(86400):
            local = (day * 86400) + tod
            on, reason = fw.step(local, local, draw - export[tod])
            draw = HEATER_W if on and water.thermostat() else 0.0
            water.advance(1, draw, tod)
            e = export[tod]
            s = draw if draw <= e else (e if e > 0 else 0.0)
            surplus += s
            if draw > s:
                key = "diverting"
                if reason in EVENING:
                    key = "evening"
                elif reason in WEEKLY_CYCLE:
                    key = "legionella"
                grid[key] += draw - s
            if tod == 18 * 3600:
                met.append(water.c >= TANK["min_c"] - REARM_K)
            if water.c >= TANK["legionella_c"] - 0.05:  # as a DS18B20 reads it (1/16 K)
                hot = True
        if hot:
            gaps.append(day - reached[-1])
            reached.append(day)
    gaps.append(first_day + len(days) - reached[-1])  # the gap still open at the end
    return {
        "surplus_kwh": surplus / 3600000,
        "grid_evening_kwh": grid["evening"] / 3600000,
        "grid_legionella_kwh": grid["legionella"] / 3600000,
        "grid_diverting_kwh": grid["diverting"] / 3600000,
        "days": len(days),
        "hot_by_met": sum(met),
        "legionella_days": len(reached) - 1,
        "longest_gap_d": max(gaps),
        "short_kwh": water.short_wh / 1000,
    }


def replay(files, cfg, litres=200, strategies=STRATEGIES, max_c=60):
    """{sequence name: {strategy: figures}} over the files, grouped in SEQUENCES."""
    out = {}
    quiet = console.log, console.problem
    console.log = console.problem = lambda msg: None  # the firmware's lines, 20 days of them
    try:
        for prefix, first in SEQUENCES:
            group = sorted(f for f in files if os.path.basename(f).startswith(prefix))
            if not group:
                continue
            days = [day_arrays(f) for f in group]
            first = first or MONDAY
            out[prefix.rstrip("_")] = {
                s: run(s, days, first, cfg, litres, max_c) for s in strategies
            }
    finally:
        console.log, console.problem = quiet
    return out


def table(results):
    head = (
        "| days | strategy | grid: evening | grid: legionella | grid: diverting | grid in all "
        "| from surplus | 45 C at 18:00 | 60 C reached (days) | longest gap | hot water short |"
    )
    lines = [head, "|" + "---|" * 11]
    for seq, rows in results.items():
        for name, r in rows.items():
            lines.append(
                "| %s | %s | %.1f kWh | %.1f kWh | %.1f kWh | %.1f kWh | %.1f kWh | %d of %d | %d "
                "| %d d | %.1f kWh |"
                % (
                    seq,
                    name,
                    r["grid_evening_kwh"],
                    r["grid_legionella_kwh"],
                    r["grid_diverting_kwh"],
                    r["grid_evening_kwh"] + r["grid_legionella_kwh"] + r["grid_diverting_kwh"],
                    r["surplus_kwh"],
                    r["hot_by_met"],
                    r["days"],
                    r["legionella_days"],
                    r["longest_gap_d"],
                    r["short_kwh"],
                )
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--traces", help="a folder of day files (default tools/data/traces)")
    p.add_argument("--trace", action="append", default=[], help="a day file (repeatable)")
    p.add_argument("--litres", type=int, default=200)
    p.add_argument("--max-c", type=float, default=60, help="the sensor's max_c (default 60)")
    p.add_argument("--json", help="write the figures as JSON to this file")
    args = p.parse_args(argv)
    cfg, errors = settings()
    files = list(args.trace)
    if args.traces or not files:
        files += sorted(glob.glob(os.path.join(args.traces or TRACES, "*.csv")))
    if not files:
        print("no trace files (*.csv)")
        return 1
    results = replay(files, cfg, args.litres, max_c=args.max_c)
    print(
        "Tank replay: %d litres, heater %d W; the sensor: max_c %g, min_c 45 by 18:00, "
        "legionella_c 60 (12:00-16:00); Sunday timers 12:00-16:00.\n"
        % (args.litres, HEATER_W, args.max_c)
    )
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
