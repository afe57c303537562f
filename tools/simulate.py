"""The demo: a real measured day of PV and load, replayed fast through the real firmware.

    python -m tools.simulate [--trace FILE] [--seconds 120] [--heater-w 2000] [--all-lines]

It starts the simulated Envoy and Enlighten on 127.0.0.1 (HTTPS, real endpoints and formats),
makes the Envoy's grid meter follow the day (plus the heater whenever the simulated relay is on,
until the tank is full), and runs the real main.py under the micropython binary with a generated
config. The firmware takes its time from the simulated board, whose clock runs fast: the logic is
the same as on a real board, only the clock is quicker. At the end: kWh diverted, from surplus
and from the grid, export left, relay switches, and a PNG plot of the day.
"""

import argparse
import os
import re
import shutil
import sys
import threading
import time

from firmware import clock
from tools.hostboard import HostBoard, lay_out
from tools.house import House
from tools.sim import ROOT, Simulation

DEFAULT_TRACE = os.path.join(ROOT, "tools", "data", "batterysimu_ch_2025-01-13.csv")
ZONES = {"batterysimu_ch": (60, "eu"), "openevse_uk": (0, "eu")}  # by trace file prefix
STEP_S = 10  # how often (simulated seconds) the house model advances and is sampled
# The firmware's default rules; a slower poll and a longer stale limit only because the host
# replays a day in minutes (a host millisecond is more than a simulated second).
DEMO_CONTROL = {
    "poll_s": 2,
    "start_delay_s": 30,
    "stop_delay_s": 60,
    "min_on_s": 300,
    "min_off_s": 300,
    "stale_s": 60,
}


def trace_date_and_zone(path):
    name = os.path.basename(path)
    m = re.search(r"(\d{4})-(\d{2})-(\d{2})", name)
    date = tuple(int(x) for x in m.groups()) if m else time.gmtime()[:3]
    for prefix, zone in ZONES.items():
        if name.startswith(prefix):
            return date, zone
    return date, (0, "none")


class Recorder:
    """Advances the house (tank, heater draw) with the simulated clock and keeps the truth:
    what the heater really drew, from where, and what was exported anyway."""

    def __init__(self, sim, house, day_start_utc, offset_min):
        self.sim, self.house = sim, house
        self.day_start = day_start_utc
        self.offset = offset_min * 60
        self.rows = []  # (tod_s, pv, load, net, relay, heater_draw, tank_wh)
        self.heater_wh = self.grid_wh = self.export_wh = 0.0
        self.stop = False
        self._last = None

    def tod(self, t):
        return t - self.day_start

    def live(self, t):
        tod = self.tod(t)
        return self.house.pv_w(tod), self.house.net_w(tod)

    def run(self):
        while not self.stop:
            t = self.sim.clock.now()
            if self._last is not None:
                dt = t - self._last
                tod = self.tod(t)
                relay = self.sim.relay_on()
                draw = self.house.step(dt, tod, relay)
                net = self.house.net_w(tod)
                self.heater_wh += draw * dt / 3600
                self.grid_wh += min(max(net, 0.0), draw) * dt / 3600
                self.export_wh += max(0.0, -net) * dt / 3600
                self.rows.append(
                    (
                        tod,
                        self.house.pv_w(tod),
                        self.house.load_w(tod),
                        net,
                        relay,
                        draw,
                        self.house.tank.stored_wh,
                    )
                )
            self._last = t
            time.sleep(STEP_S / self.sim.clock.speed)


def plot(rows, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [r[0] / 3600 for r in rows]
    fig, (top, mid, low) = plt.subplots(
        3, 1, figsize=(11, 7.5), sharex=True, gridspec_kw={"height_ratios": [3, 1, 1.2]}
    )
    top.plot(hours, [r[1] / 1000 for r in rows], color="#e6a700", label="PV")
    top.plot(
        hours, [(r[2] + r[5]) / 1000 for r in rows], color="#555555", label="load incl. heater"
    )
    top.plot(hours, [r[3] / 1000 for r in rows], color="#1f77b4", label="net grid (+ import)")
    top.axhline(0, color="black", linewidth=0.6)
    top.set_ylabel("kW")
    top.legend(loc="upper left", fontsize=8)
    top.set_title(title, fontsize=10)
    mid.fill_between(
        hours,
        [1 if r[4] else 0 for r in rows],
        step="post",
        color="#d62728",
        alpha=0.6,
        label="relay on",
    )
    mid.plot(
        hours, [r[5] / 2000 for r in rows], color="black", linewidth=0.8, label="heater draws"
    )
    mid.set_yticks([0, 1])
    mid.set_yticklabels(["off", "on"])
    mid.legend(loc="upper left", fontsize=8)
    low.plot(hours, [r[6] / 1000 for r in rows], color="#2ca02c", label="tank energy")
    low.set_ylabel("kWh")
    low.set_xlabel("local time (h)")
    low.legend(loc="upper left", fontsize=8)
    low.set_xlim(0, 24)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--trace", default=DEFAULT_TRACE, help="a day of t_s,pv_w,load_w (see tools/data)"
    )
    p.add_argument(
        "--seconds", type=float, default=120, help="how long the day takes (default 120)"
    )
    p.add_argument("--heater-w", type=float, default=2000)
    p.add_argument("--base-load-w", type=float, default=300, help="house load for PV-only traces")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "simulate"))
    p.add_argument("--all-lines", action="store_true", help="show every summary line too")
    args = p.parse_args(argv)

    house = House(args.trace, heater_w=args.heater_w, base_load_w=args.base_load_w)
    (y, mo, d), (offset, dst) = trace_date_and_zone(args.trace)
    first = max(0.0, house.times[0] - 900)
    last = min(86400.0 - 60, house.times[-1] + 900)  # stop before midnight resets "today"
    speed = (last - first) / args.seconds
    day_start = clock.days_from_civil(y, mo, d) * 86400 - offset * 60
    shutil.rmtree(args.out, ignore_errors=True)
    simdir = os.path.join(args.out, "sim")
    os.makedirs(simdir)

    sim = Simulation(
        folder="8.2.4345_with_device_data",
        pki_dir=os.path.join(ROOT, "build", "pki"),
        speed=speed,
        start=day_start + first,
    )
    sim.relay_file = os.path.join(simdir, "relay")
    rec = Recorder(sim, house, day_start, offset)
    sim.envoy.live = rec.live
    sim.start()
    config = sim.config(
        heater={"power_w": int(args.heater_w)},
        control=DEMO_CONTROL,
        clock={"utc_offset_min": offset, "dst": dst},
    )
    board_dir = lay_out(os.path.join(args.out, "board"), config)
    print(
        "demo: %s, %04d-%02d-%02d, heater %d W, %.0fx speed: the day in %.0f s"
        % (os.path.basename(args.trace), y, mo, d, args.heater_w, speed, args.seconds)
    )
    print(
        "demo: the console of the firmware (micropython main.py on the simulated board) follows;"
        " summary lines %s\n" % ("all shown" if args.all_lines else "every 30 minutes")
    )
    threading.Thread(target=rec.run, daemon=True).start()
    board = HostBoard(board_dir, sim.clock.env(simdir))
    shown = 0
    last_summary = -1
    try:
        while sim.clock.now() < day_start + last and board.proc.poll() is None:
            while shown < len(board.lines):
                line = board.lines[shown]
                shown += 1
                if " summary " in line and not args.all_lines:
                    half_hour = int(rec.tod(sim.clock.now()) // 1800)
                    if half_hour == last_summary:
                        continue
                    last_summary = half_hour
                print(line, flush=True)
            time.sleep(0.05)
    finally:
        board.stop(10)
        rec.stop = True
        sim.stop()
    for line in board.lines[shown:]:
        print(line)
    report(rec, board, board_dir, args)
    return 0


def report(rec, board, board_dir, args):
    import json

    switches = sum(1 for line in board.lines if re.match(r"\S+ relay=on reason=", line))
    ideal = sum(min(max(-(r[3] - r[5]), 0.0), args.heater_w) for r in rec.rows) * STEP_S / 3600
    try:
        with open(os.path.join(board_dir, "state.json")) as f:
            counted = json.load(f)["energy"]
    except (OSError, ValueError, KeyError):
        counted = None
    png = os.path.join(args.out, "day.png")
    plot(rec.rows, png, "%s: heater %d W" % (os.path.basename(args.trace), args.heater_w))
    print("\n=== the day ===")
    print(
        "diverted into the tank:   %5.2f kWh  (%.2f from surplus, %.2f from the grid)"
        % (rec.heater_wh / 1000, (rec.heater_wh - rec.grid_wh) / 1000, rec.grid_wh / 1000)
    )
    print(
        "possible with this heater: %4.2f kWh  (export up to the heater's power, relay or not)"
        % (ideal / 1000)
    )
    print("export left over:         %5.2f kWh" % (rec.export_wh / 1000))
    print("relay switched on:        %5d times" % switches)
    print(
        "tank at the end:          %5.2f of %.1f kWh"
        % (rec.house.tank.stored_wh / 1000, rec.house.tank.capacity_wh / 1000)
    )
    if counted:
        print(
            "firmware's own count:     %5.2f kWh  (%.2f from the grid), from its learned"
            " heater power" % (counted["today_wh"] / 1000, counted["today_grid_wh"] / 1000)
        )
    print("plot: %s" % os.path.relpath(png))
    if board.count("board: watchdog expired"):
        print("warning: the simulated watchdog expired during the run")


if __name__ == "__main__":
    sys.exit(main())
