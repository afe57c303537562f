"""Replay on a battery site: the measured days (tools/data/traces) with a home battery in
self-consumption mode, through the firmware's own Control, Heater and battery.Battery.

    python -m tools.bench.replay_battery [--capacity-kwh 10] [--max-kw 3.84] [--reserve 20]
                                   [--soc 50] [--traces DIR] [--json FILE]

The battery absorbs export until full and covers import until its reserve, up to its power
limit either way (no conversion losses). The firmware reads grid and battery power of the same
second, and the SoC once a minute, as on an Envoy with a storage CT. For each policy:

- to the tank: the heater's energy;
- drained: what the battery discharged because the heater ran (its discharge minus what it
  would have discharged without the heater, each second), the goal being 0;
- grid import: what the house (heater included) took from the grid;
- charged: what went into the battery; left: its energy at the end of each day (the night's
  import that the battery no longer covers shows here, not in the day's grid import).

Policies: "no heater"; "unaware", the firmware without battery awareness (what it did before
issue 14: it sees only the grid); "battery" first and "heater" first (min_soc 50 %).
"""

import argparse
import glob
import json
import os
import sys

from firmware.battery import Battery
from firmware.control import Control
from firmware.heater import Heater
from tools.bench.replay import TRACES, Day, settings

POLICIES = ("no heater", "unaware", "battery", "heater")


class Store:
    """The simulated battery: power + discharging, as the Envoy shows it."""

    def __init__(self, capacity_wh, max_w, reserve_pct, soc_pct):
        self.capacity = capacity_wh
        self.max_w = max_w
        self.reserve_wh = capacity_wh * reserve_pct / 100
        self.reserve_pct = reserve_pct
        self.wh = capacity_wh * soc_pct / 100

    def response(self, net0):
        """The battery's power for the house's net power without it (+ import), for 1 s."""
        w = max(-self.max_w, min(self.max_w, net0))
        if w < 0:
            return max(w, (self.wh - self.capacity) * 3600)
        return min(w, max(0.0, (self.wh - self.reserve_wh) * 3600))

    def run(self, w):
        self.wh -= w / 3600

    @property
    def soc(self):
        return int(100 * self.wh / self.capacity)


class Firmware:
    """Control + Heater (+ Battery), wired as link/policy/diverter wire them."""

    def __init__(self, cfg, now, priority):
        c = cfg["control"]
        self.control = Control(c, now)
        self.heater = Heater(cfg["heater"]["power_w"])
        self.battery = None
        if priority:
            b = {"priority": priority, "min_soc": cfg["battery"]["min_soc"]}
            self.battery = Battery(b, c["max_import_w"], c["stale_s"], "replay")
            self.battery.notes = []
        self.relay = False

    def step(self, now, grid_w, battery_w, soc, reserve):
        b = self.battery
        house = grid_w
        net = grid_w
        if b is not None:
            b.power(now, battery_w)
            if soc is not None:
                b.charge(soc, reserve)
            house = grid_w + battery_w
            net = b.adjust(now, grid_w)
            del b.notes[:]
        self.heater.observe(now, house, self.relay)
        on, _ = self.control.decide(now, net, 0, self.relay, self.heater.power_w)
        if on != self.relay:
            self.control.switched(now)
            self.heater.switched(now, on, house)
            self.relay = on
        return on


def run_day(day, cfg, policy, store):
    power_w = cfg["heater"]["power_w"]
    fw = (
        None
        if policy == "no heater"
        else Firmware(cfg, day.t0, None if policy == "unaware" else policy)
    )
    export = day.export.tolist()
    tank = drained = grid_in = charged = 0.0
    grid = battery = draw = 0.0
    for k in range(len(export)):
        now = day.t0 + k
        if fw is not None:
            soc = store.soc if k % 60 == 0 else None
            on = fw.step(now, grid, battery, soc, store.reserve_pct)
            draw = power_w if on else 0.0
        net0 = draw - export[k]
        battery = store.response(net0)
        if draw:
            drained += max(0.0, battery - max(0.0, store.response(net0 - draw)))
        store.run(battery)
        grid = net0 - battery
        tank += draw
        grid_in += max(0.0, grid)
        charged += max(0.0, -battery)
    return {
        "tank_kwh": tank / 3.6e6,
        "drained_kwh": drained / 3.6e6,
        "grid_import_kwh": grid_in / 3.6e6,
        "charged_kwh": charged / 3.6e6,
        "left_kwh": store.wh / 1000,
    }


def replay(days, cfg, capacity_wh, max_w, reserve_pct, soc_pct):
    out = {}
    for policy in POLICIES:
        total = {}
        for day in days:
            r = run_day(day, cfg, policy, Store(capacity_wh, max_w, reserve_pct, soc_pct))
            for k, v in r.items():
                total[k] = total.get(k, 0.0) + v
        out[policy] = total
    return out


def table(res, n_days):
    lines = [
        "| policy | to the tank | drained from the battery into the tank | grid import "
        "(house and heater) | into the battery | left in the battery at the day's end |",
        "|---|---|---|---|---|---|",
    ]
    for policy in POLICIES:
        r = res[policy]
        lines.append(
            "| %s | %.1f kWh | %.2f kWh | %.1f kWh | %.1f kWh | %.1f kWh |"
            % (
                policy,
                r["tank_kwh"],
                r["drained_kwh"],
                r["grid_import_kwh"],
                r["charged_kwh"],
                r["left_kwh"],
            )
        )
    lines.append("(%d days)" % n_days)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--traces", default=TRACES)
    p.add_argument("--capacity-kwh", type=float, default=10.0)
    p.add_argument("--max-kw", type=float, default=3.84)
    p.add_argument("--reserve", type=float, default=20)
    p.add_argument("--soc", type=float, default=50, help="SoC at the start of each day, %%")
    p.add_argument("--min-soc", type=int, default=50, help="heater first above this SoC, %%")
    p.add_argument("--config", help="a config.json: its control and heater sections")
    p.add_argument("--json")
    args = p.parse_args(argv)
    cfg, errors = settings(args.config)
    if errors:
        p.error("; ".join(errors))
    cfg["battery"]["min_soc"] = args.min_soc
    days = [Day(path) for path in sorted(glob.glob(os.path.join(args.traces, "*.csv")))]
    res = replay(days, cfg, args.capacity_kwh * 1000, args.max_kw * 1000, args.reserve, args.soc)
    print(
        "Battery site: %.1f kWh, %.2f kW, reserve %d %%, %d %% at the start of each day; "
        "heater %d W"
        % (args.capacity_kwh, args.max_kw, args.reserve, args.soc, cfg["heater"]["power_w"])
    )
    print(table(res, len(days)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
