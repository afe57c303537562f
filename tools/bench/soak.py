"""Soak: 24 simulated hours of the real firmware under `micropython -X heapsize=...`.

    python -m tools.bench.soak [--hours 24] [--heapsize SIZE] [--speed 720]
    make soak

The simulated Envoy follows the demo's real day (tools/data) with the heater's load when the
relay is on; the Enphase cloud hands out tokens that come due for renewal halfway through, so
a renewal happens mid-run. Without --heapsize it first finds the smallest heap (from a list of
sizes) that survives a short run with a login and a renewal, then soaks at that size.

The firmware prints a health line every simulated hour with the heap in use right after a full
collection. The soak passes when nothing failed (no MemoryError, no crash, no watchdog), the
relay followed the sun, the token was renewed, and the heap did not grow from hour to hour.
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
import time

from firmware import clock
from tools.bench.house import House
from tools.board.hostboard import HostBoard, lay_out
from tools.sim import ROOT, Simulation
from tools.simulate import DEFAULT_TRACE, DEMO_CONTROL, Recorder, trace_date_and_zone

SIZES = ["96K", "112K", "128K", "144K", "160K", "176K", "192K", "256K"]
GROWTH_LIMIT = 1024  # bytes the heap in use may differ by between hours (noise, not a trend)
HEALTH = re.compile(r"health uptime_h=(\d+) heap_used=(\d+)")
# A line that fails a run: memory ran out (MQTT's "no room in the heap" too: it backs off
# quietly), a crash, an error of the loop, the watchdog.
FAILED = re.compile(
    r"MemoryError|memory allocation failed|no room in the heap|fatal:|error:|watchdog expired"
)


def soak(
    hours,
    heapsize,
    speed,
    workdir,
    echo=False,
    start_hour=0,
    renew_after_h=None,
    binary=None,
    env=None,
    folder="8.2.4345_with_device_data",
    config=None,
    virtual=False,
    battery=None,
):
    """Run the firmware for `hours` simulated hours from start_hour (local) of the demo day;
    tokens fall due renew_after_h hours after they are issued (default: halfway). The firmware
    renews ahead of time only while the relay is off, so a sunny noon defers it. binary and env:
    the MicroPython to run and extra environment (tools/bench/heap.py passes the ESP32-heap
    stand-in);
    folder: the captured Envoy to simulate; config: sections merged into the generated
    config.json. battery: SimBattery arguments, for a capture with a battery. virtual: the
    board's own virtual clock leads (firmware/board_sim.py): the run is the same on every
    machine, and as fast as it can go. Returns a dict of findings."""
    house = House(DEFAULT_TRACE)
    (y, mo, d), (offset, dst) = trace_date_and_zone(DEFAULT_TRACE)
    day_start = clock.days_from_civil(y, mo, d) * 86400 - offset * 60
    shutil.rmtree(workdir, ignore_errors=True)
    simdir = os.path.join(workdir, "sim")
    os.makedirs(simdir)
    begin = day_start + start_hour * 3600
    sim = Simulation(
        folder=folder,
        pki_dir=os.path.join(ROOT, "build", "pki"),
        speed=1e6 if virtual else speed,
        start=begin,
        virtual=virtual,
    )
    sim.relay_file = os.path.join(simdir, "relay")
    # Tokens fall due for renewal (30 days left) this long after they are issued.
    due_h = hours / 2 if renew_after_h is None else renew_after_h
    sim.cloud.token_lifetime_s = 30 * 86400 + int(due_h * 3600)
    rec = Recorder(sim, house, day_start, offset)
    sim.envoy.live = rec.live
    if battery is not None:
        from tools.sim import SimBattery

        sim.envoy.battery = SimBattery(**battery)
    sim.start()
    sections = {"control": DEMO_CONTROL, "clock": {"utc_offset_min": offset, "dst": dst}}
    for name, values in (config or {}).items():
        sections[name] = dict(sections.get(name, {}), **values)
    board_dir = lay_out(os.path.join(workdir, "board"), sim.config(**sections), compiled=True)
    stop = hours * 3600 + 60 if virtual else None
    board = HostBoard(
        board_dir,
        sim.clock.env(simdir, stop_after=stop),
        heapsize=heapsize,
        echo=echo,
        binary=binary,
        env=env,
    )
    end = begin + hours * 3600 + 60
    try:
        while sim.clock.now() < end and board.running():
            time.sleep(0.2)
    finally:
        board.stop(10)
        sim.stop()
    heap = [(int(m.group(1)), int(m.group(2))) for m in map(HEALTH.search, board.lines) if m]
    text = board.output()
    failures = [line for line in board.lines if FAILED.search(line)]
    return {
        "hours": hours,
        "heapsize": heapsize,
        "heap": heap,
        "failures": failures,
        "renewals": text.count("token: new owner token") - 1,
        "logins": sim.cloud.logins,
        "switches": sum(
            1 for line in board.lines if re.match(r"\S+ (relay|burst)=on reason=", line)
        ),
        "diverted_kwh": rec.heater_wh / 1000,
        "handshakes": sim.envoy.handshakes,
        "polls": sum(1 for q in sim.envoy.requests if q[1].startswith("/ivp/meters/readings")),
        "exited": board.proc.returncode,
        "restarts": board.resets,
        "lines": board.lines,
    }


def verdict(res):
    """Problems with a soak's result, as text; empty when it passed. A restart (a cloud login
    runs at boot) begins a new series of hourly health lines."""
    problems = list(res["failures"][:5])
    runs = [[]]
    for hour, used in res["heap"]:
        if runs[-1] and hour <= runs[-1][-1][0]:
            runs.append([])
        runs[-1].append((hour, used))
    if len(res["heap"]) < res["hours"] - 1 - 2 * res.get("restarts", 0):
        problems.append(
            "only %d hourly health lines in %d hours" % (len(res["heap"]), res["hours"])
        )
    if res["renewals"] < 1:
        problems.append("no token renewal")
    if res["switches"] < 1:
        problems.append("the relay never came on")
    for run in runs:
        used = [h for _, h in run[1:]]  # hour 1 onwards: after the first login settled
        if used and max(used) - used[0] > GROWTH_LIMIT:
            problems.append("the heap grew from %d to %d bytes" % (used[0], max(used)))
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hours", type=int, default=24)
    p.add_argument("--heapsize", help="skip the search and soak at this size, e.g. 160K")
    p.add_argument("--speed", type=float, default=720, help="simulated seconds per host second")
    p.add_argument("--probe-hours", type=int, default=3, help="the length of each search run")
    p.add_argument("--echo", action="store_true")
    p.add_argument("--binary", help="the MicroPython to run (default: the venv's micropython)")
    p.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for it, e.g. ESP32_HEAP_GROW=57344"
    )
    p.add_argument("--virtual", action="store_true", help="on the board's virtual clock")
    args = p.parse_args(argv)
    env = dict(e.split("=", 1) for e in args.env)
    more = {"binary": args.binary, "env": env, "virtual": args.virtual}
    work = tempfile.mkdtemp(prefix="soak-")
    try:
        size = args.heapsize
        if not size:
            for size in SIZES:
                # From 08:00: a renewal at 08:30, then the sun comes and the relay works.
                res = soak(
                    args.probe_hours,
                    size,
                    args.speed,
                    os.path.join(work, size),
                    start_hour=8,
                    renew_after_h=0.5,
                    **more,
                )
                problems = verdict(res)
                print(
                    "heap %-5s %d h: %s"
                    % (size, args.probe_hours, "ok" if not problems else problems[0]),
                    flush=True,
                )
                if not problems:
                    break
            else:
                print("no size in %s passed" % SIZES)
                return 1
        res = soak(args.hours, size, args.speed, os.path.join(work, "soak"), args.echo, **more)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    problems = verdict(res)
    used = [h for _, h in res["heap"]]
    print(
        "\nsoak: %d simulated hours under %s -X heapsize=%s"
        % (res["hours"], os.path.basename(args.binary or "micropython"), size)
    )
    print(
        "  Envoy readings %d, TLS handshakes %d, cloud logins %d (token renewals %d),"
        " relay switched on %d times,"
        " %.2f kWh diverted"
        % (
            res["polls"],
            res["handshakes"],
            res["logins"],
            res["renewals"],
            res["switches"],
            res["diverted_kwh"],
        )
    )
    if used:
        print(
            "  heap in use after a full collection, hourly: first %d, last %d, min %d,"
            " max %d bytes" % (used[0], used[-1], min(used), max(used))
        )
    print("  %s" % ("PASS" if not problems else "FAIL: " + "; ".join(problems)))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
