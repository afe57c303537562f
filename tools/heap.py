"""The ESP32's Python heap, measured (make heap): how much headroom the firmware leaves.

    python -m tools.heap [--binary PATH] [--features default,mqtt,...] [--quick]

It runs the real firmware, deployed as .mpy, under `micropython-esp32` (../shared/upy32: a 32-bit
unix port with ESP32_GENERIC's heap: a first area of 56 KB that grows on demand by up to
ESP32_HEAP_GROW bytes, 57344 on a real board) and finds by bisection the smallest growth budget
at which each workload still passes. The headroom is 57344 minus that budget: what a real
ESP32_GENERIC (no PSRAM) would have to spare. Workloads:

- steady: three simulated hours of the demo's day from 08:00, with a cloud login at boot and a
  token renewal at 08:30 (tools.soak's probe);
- boot-FOLDER: a boot against a captured Envoy, up to the relay switching on; the first Envoy
  connection must succeed at the first try. The heaviest captures are included.

Without ../shared/upy32 it says so and measures with the 64-bit `micropython` instead (its heap
is about 1.5 times larger: the figures are then not the ESP32's).
"""

import argparse
import os
import re
import shutil
import sys
import tempfile

from tools import soak
from tools.sim import ROOT

STAND_IN = os.path.join(os.path.dirname(ROOT), "shared", "upy32", "micropython-esp32")
BOARD_GROWTH = 57344  # bytes ESP32_GENERIC's heap grows by after its first 56 KB area
STEP = 1024
BOOT_FOLDERS = (
    "8.2.4345_with_device_data",  # the demo's
    "8.3.5169_with_generator",  # the largest /ivp/meters and readings
    "8.3.5433_tot_is_net_cons",  # total minus production: two readings per poll
    "8.3.1598_collar",
)
# Config sections each feature adds (later features add theirs here). "_site": a capture folder
# (and SimBattery arguments) that the steady run and the first boot use instead of the demo's.
FEATURES = {
    "default": {},
    "burst": {"heater": {"output": "burst"}},
    "battery": {
        "battery": {"priority": "heater", "min_soc": 50},
        "_site": ("8.2.4286_with_3cts_and_battery_split", {"soc_pct": 60}),
    },
    "mqtt": {"mqtt": {"host": "127.0.0.1", "interval_s": 10}},
    # a DS18B20 (firmware/tank_sim.py reads 50 C without its file) and every tank rule
    "tank": {
        "tank": {
            "pin": 4,
            "max_c": 60,
            "min_c": 45,
            "hot_by": "18:00",
            "legionella_c": 60,
            "legionella_window": "12:00-16:00",
        }
    },
}
FAILED = re.compile(r"MemoryError|memory allocation failed|fatal:|error:|watchdog expired")


def steady(binary, env, workdir, config, site=None):
    folder, battery = site or ("8.2.4345_with_device_data", None)
    res = soak.soak(
        3,
        "56K",
        720,
        workdir,
        start_hour=8,
        renew_after_h=0.5,
        binary=binary,
        env=env,
        config=config,
        virtual=True,
        folder=folder,
        battery=battery,
    )
    return soak.verdict(res)


def boot(folder, binary, env, workdir, config, battery=None):
    res = soak.soak(
        0.25,
        "56K",
        120,
        workdir,
        start_hour=11,
        binary=binary,
        env=env,
        folder=folder,
        config=config,
        virtual=True,
        battery=battery,
    )
    lines = res["lines"]
    problems = [line for line in lines if FAILED.search(line)][:3]
    first = next((i for i, line in enumerate(lines) if "envoy: net power from" in line), None)
    if first is None:
        problems.append("no Envoy connection")
    else:
        fine = ("envoy: firmware", "envoy: certificate pinned", "envoy: net power")
        retried = [x for x in lines[:first] if "envoy: " in x and not any(f in x for f in fine)]
        if retried:
            problems.append("the first Envoy connection failed: " + retried[0])
    if not any("relay=on" in line or "burst=on" in line for line in lines):
        problems.append("the relay never came on")
    return problems


def smallest(run, lo=0, hi=BOARD_GROWTH):
    """The smallest growth budget (a multiple of STEP) at which run(budget) passes, or None."""
    if run(hi):
        return None
    best = hi
    while hi - lo > STEP:
        mid = (lo + hi) // 2 // STEP * STEP
        problems = run(mid)
        if problems:
            lo = mid
        else:
            best = hi = mid
    return best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", help="default: %s if present" % os.path.relpath(STAND_IN))
    p.add_argument(
        "--features", default="default", help="comma-separated: %s" % ", ".join(FEATURES)
    )
    p.add_argument("--quick", action="store_true", help="only the steady run and the demo's boot")
    p.add_argument("--echo", action="store_true", help="print each run's verdict")
    args = p.parse_args(argv)
    binary = args.binary or (STAND_IN if os.path.exists(STAND_IN) else None)
    config = {}
    site = None
    for name in args.features.split(","):
        if name not in FEATURES:
            p.error("unknown feature %r" % name)
        for section, values in FEATURES[name].items():
            if section == "_site":
                site = values
            else:
                config[section] = dict(config.get(section, {}), **values)
    if binary is None:
        print(
            "heap: %s is not here, so the ESP32's heap cannot be modelled; a fresh clone lacks it "
            "(it is a measuring instrument of the project workspace)." % STAND_IN
        )
        return 2
    workloads = [("steady: 3 h, a login and a renewal", None)]
    folders = ((site[0],) if site else ()) + BOOT_FOLDERS
    folders = folders[:1] if args.quick else folders
    workloads += [("boot: " + f, f) for f in folders]
    work = tempfile.mkdtemp(prefix="heap-")
    broker = None
    if "mqtt" in config:  # a broker on 127.0.0.1, so that the runs connect and publish
        from tools.broker import Broker

        broker = Broker().start()
        config["mqtt"]["port"] = broker.port
    print("heap: %s, -X heapsize=56K, features: %s" % (os.path.relpath(binary), args.features))
    print("| workload | smallest growth that passes | headroom on an ESP32 |")
    print("|---|---|---|")
    worst = None
    try:
        for name, folder in workloads:

            def run(budget, folder=folder, name=name):
                env = {"ESP32_HEAP_GROW": str(budget)}
                wd = os.path.join(work, "%s-%d" % (folder or "steady", budget))
                if folder is None:
                    problems = steady(binary, env, wd, config, site)
                else:
                    battery = site[1] if site and folder == site[0] else None
                    problems = boot(folder, binary, env, wd, config, battery)
                shutil.rmtree(wd, ignore_errors=True)
                if args.echo:
                    print("  %s at %d: %s" % (name, budget, problems or "ok"), flush=True)
                return problems

            need = smallest(run)
            if need is None:
                print("| %s | fails even at %d | none |" % (name, BOARD_GROWTH), flush=True)
                worst = -1
                continue
            room = BOARD_GROWTH - need
            worst = room if worst is None else min(worst, room)
            print("| %s | %d | %.1f KB |" % (name, need, room / 1024), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if broker:
            broker.stop()
    if worst is None or worst < 0:
        print("heap: some workload does not fit an ESP32_GENERIC")
        return 1
    print(
        "headroom: %.1f KB (the smallest of the workloads); keep a few KB for what a real board"
        " adds (Wi-Fi and machine objects)" % (worst / 1024)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
