"""A house replaying a measured day: PV and load from a trace, plus the heater when its relay is
on and the tank still takes heat. Used by the simulated Envoy (demo, tests) and the replay bench.

Trace files: `t_s,pv_w,load_w` at 1- or 2-minute steps, seconds since local midnight
(see tools/data/traces/README.md). PV-only days have an empty load column: a base load is added.

The household-load option (spiky_load(), the replay's --spiky): measured minutes hide what a
grid meter sees second by second. It superimposes on a day, from a seed (the same seed gives the
same day), the loads of an ordinary home that a 1-minute average smooths away:
- kettles: 2-3 kW for 2-3 min, 4-7 a day, mostly mornings, lunch time and late afternoon;
- a microwave or toaster: 0.8-1.3 kW for 1-5 min, 1-4 a day;
- cooking: a hob or oven element cycling on its thermostat (1.2-2 kW, 15-90 s on, 15-90 s off)
  for 20-45 min at lunch and/or dinner;
- a washing machine on half the days, started 08:00-15:00: a heating phase of 2 kW for
  12-20 min, then the drum (150-500 W, switching every 20-40 s) for an hour;
- a fridge cycling: 90 W for 15-25 min, off for 30-45 min, with a 2-second 400 W start surge;
- noise: 25 W (one standard deviation) every second.
"""

import csv
import random


def load_trace(
    path: str, base_load_w: float = 300.0
) -> tuple[list[float], list[float], list[float], bool]:
    """-> (times, pv, load, pv_only): lists, and whether the trace has no load at all; load =
    base_load_w where the trace has none."""
    times: list[float] = []
    pv: list[float] = []
    rows: list[float | None] = []
    pv_only = True
    with open(path) as f:
        for row in csv.DictReader(f):
            times.append(float(row["t_s"]))
            pv.append(max(0.0, float(row["pv_w"])))
            if row.get("load_w"):
                pv_only = False
                rows.append(float(row["load_w"]))
            else:
                rows.append(None)
    if pv_only:
        load = [base_load_w] * len(times)
    else:
        # A few rows of the Swiss days go negative where the PV series lags: not a real load.
        load = [max(0.0, x) if x is not None else base_load_w for x in rows]
    return times, pv, load, pv_only


class Tank:
    """A hot-water tank: it takes heat until full, then its thermostat opens; it closes again
    once the tank has cooled by the thermostat's hysteresis (about 5 K in 200 litres). It loses
    a little heat all day and water is drawn in the evening."""

    def __init__(
        self,
        capacity_wh: float = 9000.0,
        start_wh: float = 3000.0,
        loss_w: float = 80.0,
        hysteresis_wh: float = 1200.0,
    ) -> None:
        self.capacity_wh = capacity_wh
        self.stored_wh = start_wh
        self.loss_w = loss_w
        self.hysteresis_wh = hysteresis_wh
        self.closed = True

    def thermostat_closed(self) -> bool:
        if self.stored_wh >= self.capacity_wh:
            self.closed = False
        elif self.stored_wh <= self.capacity_wh - self.hysteresis_wh:
            self.closed = True
        return self.closed

    def advance(self, seconds, heater_w, tod_s):
        draw_w = 1500.0 if 18 * 3600 <= tod_s < 20 * 3600 else 0.0  # showers and dishes
        self.stored_wh += (heater_w - self.loss_w - draw_w) * seconds / 3600
        self.stored_wh = max(0.0, min(self.capacity_wh, self.stored_wh))


class House:
    """Net grid power (+ import) at a time of day, with the heater when relay_on() is true."""

    def __init__(
        self,
        trace_path: str,
        heater_w: float = 2000.0,
        base_load_w: float = 300.0,
        tank: Tank | None = None,
    ) -> None:
        self.times, self.pv, self.load, self.pv_only = load_trace(trace_path, base_load_w)
        self.heater_w = heater_w
        self.tank = tank or Tank()
        self.heater_draw_w = 0.0

    def _at(self, series, tod_s):
        t = self.times
        if tod_s <= t[0]:
            return series[0] if tod_s > t[0] - 120 else (0.0 if series is self.pv else series[0])
        if tod_s >= t[-1]:
            return (
                series[-1] if tod_s < t[-1] + 120 else (0.0 if series is self.pv else series[-1])
            )
        lo, hi = 0, len(t) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if t[mid] <= tod_s:
                lo = mid
            else:
                hi = mid
        if t[hi] - t[lo] > 600:  # a gap in the trace: hold the last value
            return series[lo]
        f = (tod_s - t[lo]) / (t[hi] - t[lo])
        return series[lo] + f * (series[hi] - series[lo])

    def pv_w(self, tod_s: float) -> float:
        return self._at(self.pv, tod_s)

    def load_w(self, tod_s: float) -> float:
        return self._at(self.load, tod_s)

    def step(self, seconds, tod_s, relay_on):
        """Advance the tank by seconds; returns the heater's draw now."""
        # relay_on: True/False, or the share of full power of a burst output
        draw = self.heater_w * relay_on if relay_on and self.tank.thermostat_closed() else 0.0
        self.tank.advance(seconds, draw, tod_s)
        self.heater_draw_w = draw
        return draw

    def net_w(self, tod_s: float) -> float:
        return self.load_w(tod_s) + self.heater_draw_w - self.pv_w(tod_s)


def _spans(rng, count, windows):
    """count start times (s since midnight), each in one of windows [(from_h, to_h, weight)]."""
    total = sum(w[2] for w in windows)
    out = []
    for _ in range(count):
        x = rng.random() * total
        for lo, hi, weight in windows:
            if x < weight:
                out.append(int(rng.uniform(lo, hi) * 3600))
                break
            x -= weight
    return out


def spiky_load(seed: int, seconds: int = 86400) -> list[float]:
    """The household loads above, W for each second since midnight (a list). Deterministic."""
    rng = random.Random(seed)
    w = [0.0] * seconds

    def add(start, length, watts):
        for t in range(max(0, start), min(seconds, start + length)):
            w[t] += watts

    kettle_hours = [(6.5, 9, 3), (11.5, 14, 2), (15, 18, 2), (9, 20, 1)]
    for start in _spans(rng, rng.randint(4, 7), kettle_hours):
        add(start, rng.randint(120, 180), rng.uniform(2000, 3000))
    for start in _spans(rng, rng.randint(1, 4), [(7, 9, 1), (11.5, 13.5, 1), (17, 20, 1)]):
        add(start, rng.randint(60, 300), rng.uniform(800, 1300))
    meals = [(11.5, 12.5), (17.5, 19)]
    for lo, hi in rng.sample(meals, rng.randint(1, 2)):
        t = int(rng.uniform(lo, hi) * 3600)
        end = t + rng.randint(1200, 2700)
        watts = rng.uniform(1200, 2000)
        while t < end:
            on = rng.randint(15, 90)
            add(t, on, watts)
            t += on + rng.randint(15, 90)
    if rng.random() < 0.5:
        t = int(rng.uniform(8, 15) * 3600)
        heat = rng.randint(720, 1200)
        add(t, heat, 2000)
        t += heat
        end = t + 3600
        while t < end:
            run = rng.randint(20, 40)
            add(t, run, rng.uniform(150, 500))
            t += 2 * run
    t = rng.randint(0, 2700)
    while t < seconds:
        run = rng.randint(900, 1500)
        add(t, 2, 310)
        add(t, run, 90)
        t += run + rng.randint(1800, 2700)
    for t in range(seconds):
        w[t] += rng.gauss(0, 25)
    return w
