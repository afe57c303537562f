"""The demo: a real measured day of PV and load, replayed through the real firmware.

    python -m tools.simulate [--trace FILE] [--from HH:MM] [--to HH:MM] [--heater-w 2000]
                             [--output relay|burst]

It starts the simulated Envoy and Enlighten on 127.0.0.1 (HTTPS, real endpoints and formats),
makes the Envoy's grid meter follow the day (plus the heater whenever the simulated relay is on,
until the tank is full), and runs the real main.py under the micropython binary with a generated
config. The simulated board's clock is virtual: time moves only when the firmware sleeps between
passes, so the same day gives the same decisions, console and totals on every run and every
machine, and the day takes as long as the machine needs (about two minutes). At the end: kWh
diverted, from surplus and from the grid, export left, relay switches, and a PNG plot.
--output burst makes the heater a zero-cross SSR (heater.output "burst"): the simulated board
publishes the share of each chunk it plays, the house draws that share of the heater's power
until the chunk ends, and the plot shows the duty curve.
"""

import argparse
import os
import re
import shutil
import sys
import threading
import time

from firmware import clock
from tools.bench.house import House
from tools.board.hostboard import HostBoard, lay_out
from tools.sim import ROOT, Simulation

DEFAULT_TRACE = os.path.join(ROOT, "tools", "data", "batterysimu_ch_2025-01-13.csv")
# By trace file prefix: (UTC offset in minutes, DST rule, place).
ZONES = {
    "batterysimu_ch": (60, "eu", "Switzerland"),
    "openevse_uk": (0, "eu", "United Kingdom"),
}
# The firmware's default rules; a 2 s poll only to make the day quicker to replay.
DEMO_CONTROL = {"poll_s": 2}


def trace_date_and_zone(path):
    """-> ((y, m, d), (utc_offset_min, dst)) from the file name."""
    date, zone, _ = trace_facts(path)
    return date, zone


def trace_facts(path):
    name = os.path.basename(path)
    m = re.search(r"(\d{4})-(\d{2})-(\d{2})", name)
    date = tuple(int(x) for x in m.groups()) if m else time.gmtime()[:3]
    for prefix, (offset, dst, place) in ZONES.items():
        if name.startswith(prefix):
            return date, (offset, dst), place
    return date, (0, "none"), None


class Recorder:
    """The house behind the simulated Envoy's meter, and the day's truth. Each reading the Envoy
    serves advances the house (tank, heater draw) to that moment, with the relay as the board
    set it after the previous reading; so the heater shows on the meter from the first reading
    after the switch, as on a real Envoy. Records what the heater drew, from where, and what was
    exported anyway."""

    def __init__(self, sim, house, day_start_utc, offset_min):
        self.sim, self.house = sim, house
        self.day_start = day_start_utc
        self.offset = offset_min * 60
        self.rows = []  # (tod_s, pv, load, net, relay, heater_draw, tank_wh)
        self.heater_wh = self.grid_wh = self.export_wh = 0.0
        self.hot_at = None  # time of day the tank's thermostat first opened
        self._last = None
        self._lock = threading.Lock()

    def tod(self, t):
        return t - self.day_start

    def live(self, t):
        with self._lock:
            self.advance(t)
            tod = self.tod(t)
            return self.house.pv_w(tod), self.house.net_w(tod)

    def advance(self, t):
        if self._last is not None and t > self._last:
            dt = t - self._last
            tod = self.tod(t)
            relay = self.sim.relay_on()
            draw = self.house.step(dt, tod, relay)
            net = self.house.net_w(tod)
            if relay and not draw and self.hot_at is None:
                self.hot_at = tod
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
        if self._last is None or t > self._last:
            self._last = t


def plot(rec, path, title, heater_w):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = rec.rows[:: max(1, len(rec.rows) // 4000)]
    hours = [r[0] / 3600 for r in rows]
    fig, (top, mid, low) = plt.subplots(
        3, 1, figsize=(11, 8), sharex=True, gridspec_kw={"height_ratios": [3, 0.8, 1.3]}
    )
    # Where the PV went, stacked: the house, the tank, the grid (export); below zero, what came
    # from the grid: for the house, and for the heater.
    pv = [r[1] / 1000 for r in rows]
    house = [min(r[1], r[2]) / 1000 for r in rows]
    tank = [min(max(r[1] - r[2], 0.0), r[5]) / 1000 for r in rows]
    used = [a + b for a, b in zip(house, tank, strict=True)]
    heater_grid = [r[5] / 1000 - t for r, t in zip(rows, tank, strict=True)]
    house_grid = [-max(0.0, r[3] / 1000 - g) for r, g in zip(rows, heater_grid, strict=True)]
    top.fill_between(hours, 0, house, color="#c7c7c7", lw=0, label="PV used by the house")
    top.fill_between(
        hours, house, used, color="#2ca02c", lw=0, label="PV into the tank (diverted)"
    )
    top.fill_between(
        hours, used, pv, color="#ff7f0e", alpha=0.45, lw=0, label="PV exported (wasted)"
    )
    top.fill_between(hours, 0, house_grid, color="#9ecae1", lw=0, label="grid to the house")
    top.fill_between(
        hours,
        house_grid,
        [h - g for h, g in zip(house_grid, heater_grid, strict=True)],
        color="#d62728",
        lw=0,
        label="grid to the heater",
    )
    top.plot(hours, pv, color="#e6a700", linewidth=1.0, label="PV")
    top.plot(
        hours, [r[2] / 1000 for r in rows], color="#444444", linewidth=0.7, label="house load"
    )
    top.axhline(0, color="black", linewidth=0.6)
    top.set_ylabel("kW")
    top.legend(loc="upper left", fontsize=7, ncol=2)
    top.set_title(title, fontsize=10)
    burst = any(0 < r[4] < 1 for r in rows)
    mid.fill_between(
        hours,
        [r[4] for r in rows] if burst else [1 if r[4] else 0 for r in rows],
        step="post",
        color="#d62728",
        alpha=0.5,
        label="burst duty (share of full power)" if burst else "relay on",
    )
    mid.plot(
        hours, [r[5] / heater_w for r in rows], color="black", linewidth=0.8, label="heater draws"
    )
    mid.set_yticks([0, 1])
    mid.set_yticklabels(["0", "100 %"] if burst else ["off", "on"])
    mid.legend(loc="upper left", fontsize=7)
    cap = rec.house.tank.capacity_wh / 1000
    low.plot(hours, [r[6] / 1000 for r in rows], color="#2ca02c", label="energy in the tank")
    low.axhline(cap, color="#2ca02c", linestyle="--", linewidth=0.8)
    low.text(23.9, cap, "capacity %.1f kWh" % cap, ha="right", va="bottom", fontsize=7)
    if rec.hot_at is not None:
        h = rec.hot_at / 3600
        low.axvline(h, color="#d62728", linewidth=0.8)
        low.text(
            h, cap * 0.5, " tank hot %s" % clock.hms(rec.hot_at)[:5], fontsize=8, color="#d62728"
        )
    low.set_ylim(0, cap * 1.15)
    low.set_ylabel("kWh")
    low.set_xlabel("local time (h)")
    low.legend(loc="upper left", fontsize=7)
    low.set_xlim(0, 24)
    low.set_xticks(range(0, 25, 2))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _hhmm(text):
    h, m = text.split(":")
    return int(h) * 3600 + int(m) * 60


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--trace", default=DEFAULT_TRACE, help="a day of t_s,pv_w,load_w (see tools/data)"
    )
    p.add_argument(
        "--from", dest="start", help="local time to start, HH:MM (default: the trace's)"
    )
    p.add_argument("--to", dest="end", help="local time to stop, HH:MM (default: the trace's end)")
    p.add_argument("--heater-w", type=float, default=2000)
    p.add_argument(
        "--output", choices=("relay", "burst"), default="relay", help="heater.output (README)"
    )
    p.add_argument("--base-load-w", type=float, default=300, help="house load for PV-only traces")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "simulate"))
    p.add_argument("--all-lines", action="store_true", help="show every summary and health line")
    p.add_argument("--quiet", action="store_true", help="only the day's result")
    p.add_argument(
        "--mqtt",
        nargs="?",
        const=0,
        type=int,
        metavar="PORT",
        help="start a mosquitto on 127.0.0.1 (on PORT, default a free one) and publish to it",
    )
    args = p.parse_args(argv)

    house = House(args.trace, heater_w=args.heater_w, base_load_w=args.base_load_w)
    (y, mo, d), (offset, dst), place = trace_facts(args.trace)
    first = _hhmm(args.start) if args.start else max(0.0, house.times[0] - 900)
    last = _hhmm(args.end) if args.end else min(86400.0 - 60, house.times[-1] + 900)
    day_start = clock.days_from_civil(y, mo, d) * 86400 - offset * 60
    shutil.rmtree(args.out, ignore_errors=True)
    simdir = os.path.join(args.out, "sim")
    os.makedirs(simdir)

    sim = Simulation(
        folder="8.2.4345_with_device_data",
        pki_dir=os.path.join(ROOT, "build", "pki"),
        speed=1e6,  # virtual time: the board does not wait in host time
        start=day_start + first,
        virtual=True,
    )
    sim.relay_file = os.path.join(simdir, "relay")
    rec = Recorder(sim, house, day_start, offset)
    sim.envoy.live = rec.live
    sim.start()
    config = sim.config(
        heater={"power_w": int(args.heater_w), "output": args.output},
        control=DEMO_CONTROL,
        clock={"utc_offset_min": offset, "dst": dst},
    )
    broker = _mqtt(args, config)
    board_dir = lay_out(os.path.join(args.out, "board"), config)
    say = (lambda *a, **k: None) if args.quiet else print
    say(
        "demo: %s, %04d-%02d-%02d, heater %d W (%s), %s to %s local"
        % (
            place or os.path.basename(args.trace),
            y,
            mo,
            d,
            args.heater_w,
            "a relay" if args.output == "relay" else "a zero-cross SSR, burst output",
            clock.hms(first)[:5],
            clock.hms(last)[:5],
        )
    )
    say(
        "demo: the console of the firmware (micropython main.py on the simulated board) follows;"
        " summary lines %s\n" % ("all shown" if args.all_lines else "every 30 minutes")
    )
    board = HostBoard(board_dir, sim.clock.env(simdir, stop_after=last - first))
    shown = 0
    last_summary = -1
    story = []
    try:
        while board.running():  # the board stops itself at the end of the day
            while shown < len(board.lines):
                line = board.lines[shown]
                shown += 1
                if " health " in line and not args.all_lines:
                    continue  # hourly heap figures: for the soak, not the day's story
                if " summary " in line and not args.all_lines:
                    half_hour = line[:2] + ("a" if line[3:5] < "30" else "b")  # from its stamp
                    if half_hour == last_summary:
                        continue
                    last_summary = half_hour
                story.append(line)
                say(line, flush=True)
            time.sleep(0.05)
    finally:
        board.stop(10)
        sim.stop()
        if broker:
            broker.stop()
    for line in board.lines[shown:]:
        story.append(line)
        say(line)
    report(rec, board, board_dir, args, place, (y, mo, d))
    return 0


def _mqtt(args, config):
    # --mqtt: a private broker, and how to watch it. The day runs on a virtual clock (about two
    # minutes), so the watcher gets a few seconds to start before the board does.
    if args.mqtt is None:
        return None
    from tools.sim.broker import Broker

    broker = Broker(port=args.mqtt or None).start()
    config["mqtt"] = {"host": "127.0.0.1", "port": broker.port}
    print(
        "demo: MQTT broker (mosquitto) on 127.0.0.1:%d; in another terminal, watch it with\n"
        "    mosquitto_sub -h 127.0.0.1 -p %d -t 'diverter_5e0000d1e5e1/#' -t "
        "'homeassistant/#' -v\n"
        "demo: starting in 5 s" % (broker.port, broker.port),
        flush=True,
    )
    time.sleep(5)
    return broker


def report(rec, board, board_dir, args, place, date):
    import json

    switches = sum(1 for line in board.lines if re.match(r"\S+ (relay|burst)=on reason=", line))
    ideal = 0.0
    for a, b in zip(rec.rows, rec.rows[1:], strict=False):
        ideal += min(max(-(b[3] - b[5]), 0.0), args.heater_w) * (b[0] - a[0]) / 3600
    try:
        with open(os.path.join(board_dir, "state.json")) as f:
            counted = json.load(f)["energy"]
    except (OSError, ValueError, KeyError):
        counted = None
    png = os.path.join(args.out, "day.png")
    surplus = (rec.heater_wh - rec.grid_wh) / 1000
    title = (
        "%s%04d-%02d-%02d, heater %d W: %.1f kWh into the tank (%.1f from surplus, %.1f from "
        "the grid), %.1f kWh exported"
        % (
            (place + ", ") if place else "",
            *date,
            args.heater_w,
            rec.heater_wh / 1000,
            surplus,
            rec.grid_wh / 1000,
            rec.export_wh / 1000,
        )
    )
    plot(rec, png, title, args.heater_w)
    print("\n=== the day ===")
    print(
        "diverted into the tank:   %5.2f kWh  (%.2f from surplus, %.2f from the grid)"
        % (rec.heater_wh / 1000, surplus, rec.grid_wh / 1000)
    )
    print(
        "possible with this heater: %4.2f kWh  (export up to the heater's power, relay or not)"
        % (ideal / 1000)
    )
    print("export left over:         %5.2f kWh" % (rec.export_wh / 1000))
    print(
        "%s %5d times"
        % (
            "relay switched on:       " if args.output == "relay" else "burst started:           ",
            switches,
        )
    )
    print(
        "tank at the end:          %5.2f of %.1f kWh%s"
        % (
            rec.house.tank.stored_wh / 1000,
            rec.house.tank.capacity_wh / 1000,
            "" if rec.hot_at is None else " (hot at %s)" % clock.hms(rec.hot_at)[:5],
        )
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
