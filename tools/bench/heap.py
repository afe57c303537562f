"""The ESP32's Python heap, measured (make heap): how much headroom the firmware leaves.

    python -m tools.bench.heap [--binary PATH] [--features default,mqtt,...] [--quick] [--repeat N]

It runs the real firmware, deployed as .mpy, under `micropython-esp32` (../shared/upy32: a 32-bit
unix port with ESP32_GENERIC's heap: a first area of 56 KB that grows on demand by up to
ESP32_HEAP_GROW bytes, 57344 on a real board) and finds by bisection the smallest growth budget
at which each workload still passes (--repeat N: N runs at each budget, all passing; runs of one
budget differ a little, by their ports and the timing of the simulator's threads, so that near
the edge one may pass and the next fail). The headroom is 57344 minus that budget: what a real
ESP32_GENERIC (no PSRAM) would have to spare. Workloads:

- steady: three simulated hours of the demo's day from 08:00, with a cloud login at boot and a
  token renewal at 08:30 (tools.bench.soak's probe);
- boot-FOLDER: a boot against a captured Envoy, up to the relay switching on; the first Envoy
  connection must succeed at the first try. The heaviest captures are included.
- update: a boot that installs a signed release (this tree, one version up) from a release server
  on 127.0.0.1 (tools/sim/release_server.py), then boots it on trial up to the relay switching on.

- look: not a growth budget but what a look for a release (the manifest, its signature) needs
  beyond the modules a running diverter has loaded anyway: the smallest first heap area (no
  growth) at which a look passes, less the same without it. More than a running diverter's
  headroom, so looks run at boot (firmware/update_boot.py).

Feature "update": update.url configured (a key of the run's own, a server whose release is this
version): at boot a look (TLS with a CA check, the manifest, the signature), then the trial
watch resident while the diverter runs.

Without ../shared/upy32 it says so and measures with the 64-bit `micropython` instead (its heap
is about 1.5 times larger: the figures are then not the ESP32's).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from tools.bench import soak
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
    "update": {"update": {"url": "(the run's release server)", "check_h": 24}},
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
DEMO_FOLDER = BOOT_FOLDERS[0]
FAILED = soak.FAILED


class _Bounded(soak.HostBoard):
    """A board that stops after RESETS_MAX restarts: one that runs out of memory at every boot
    would otherwise restart for ever (the app resets after a crash), with no simulated time
    passing to end the run."""

    RESETS_MAX = 6

    def _spawn(self):
        if self.resets > self.RESETS_MAX:
            self.lines.append("error: %d restarts: stopped by tools/bench/heap.py" % self.resets)
            self._stopping = True
            return self.proc
        return super()._spawn()


soak.HostBoard = _Bounded  # type: ignore[misc]  # soak's runs get the bounded board


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


def _quarter_hour(folder, binary, env, workdir, config, battery=None):
    # A boot at 11:00 and a quarter of an hour of the demo's day: the console's lines, and the
    # failures in them.
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
    return lines, [line for line in lines if FAILED.search(line)][:3]


def boot(folder, binary, env, workdir, config, battery=None):
    lines, problems = _quarter_hour(folder, binary, env, workdir, config, battery)
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


def install(binary, env, workdir, config):
    """The update workload: a boot that installs a release, then the new version's first run."""
    lines, problems = _quarter_hour(DEMO_FOLDER, binary, env, workdir, config)
    done = [i for i, line in enumerate(lines) if " installed in slot " in line]
    if not done:
        problems.append("the release was not installed")
    elif not any("relay=on" in line for line in lines[done[0] :]):
        problems.append("the new version never switched the relay on")
    return problems


class Releases:
    """A key of this run's own (the boards laid out here trust it), this tree released as it is
    (for the feature: a look that finds nothing newer) and one version up (the workload)."""

    def __init__(self, work):
        from tools import release
        from tools.sim import ROOT as repo
        from tools.sim import certs
        from tools.sim.release_server import ReleaseServer

        self.tree, up = os.path.join(work, "tree"), os.path.join(work, "tree-up")
        for tree in (self.tree, up):
            os.makedirs(tree)
            for name in ("boot.py", "main.py"):
                shutil.copy(os.path.join(repo, name), tree)
            shutil.copytree(
                os.path.join(repo, "firmware"),
                os.path.join(tree, "firmware"),
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        key_path = os.path.join(work, "key.pem")
        release.new_key(key_path, self.tree, passphrase=False)
        with open(os.path.join(self.tree, "firmware", "release_key.py")) as f:
            self.key_text = f.read()
        key = release.load_key(key_path, passphrase=False)
        pki = certs.make(os.path.join(repo, "build", "pki"))
        self.ca = pki["ca_der"]
        same, newer = os.path.join(work, "same"), os.path.join(work, "newer")
        shutil.copy(os.path.join(self.tree, "firmware", "release_key.py"), up + "/firmware")
        version = release.tree_version(up)
        with open(os.path.join(up, "firmware", "__init__.py")) as f:
            text = f.read().replace('"%s"' % version, '"%s.1"' % version)
        with open(os.path.join(up, "firmware", "__init__.py"), "w") as f:
            f.write(text)
        release.build(key, same, self.tree)
        release.build(key, newer, up)
        self.same = ReleaseServer(same, pki).start()
        self.newer = ReleaseServer(newer, pki).start()
        self._lay_out = soak.lay_out
        soak.lay_out = self.lay_out  # every board of this run trusts the key

    def lay_out(self, folder, config=None, compiled=False):
        return self._lay_out(folder, config, compiled, release_key=self.key_text)

    def update(self, server, auto=False):
        return {"url": server.url, "ca_file": self.ca, "auto": auto, "check_h": 24}

    def stop(self):
        soak.lay_out = self._lay_out
        self.same.stop()
        self.newer.stop()


LOOK = """import sys
sys.path.insert(0, "app/a")
import gc
from firmware import clock, compat, console, http, store
from firmware import update_boot
class Board:
    def timeout(self, s):
        return s
gc.collect()
if %r:
    rec = update_boot.record()
    m, conn = update_boot._manifest(%r, Board(), rec)
    if conn:
        conn.close()
    print("look:", m and m["version"], rec["said"])
"""


def look(binary, releases, work):
    """(bytes a look needs beyond a running diverter's modules, the heap with it, without it)."""
    from tools.release import tree_version

    board = os.path.join(work, "look")
    releases.lay_out(board, None, compiled=True)
    want = "look: %s None" % tree_version(releases.tree)

    def passes(with_look, heap):
        with open(os.path.join(board, "look.py"), "w") as f:
            f.write(LOOK % (with_look, dict(releases.update(releases.same), pin="")))
        r = subprocess.run(
            [binary, "-X", "heapsize=%d" % heap, "look.py"],
            cwd=board,
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ, ESP32_HEAP_GROW="0"),
        )
        return r.returncode == 0 and (want in r.stdout or not with_look)

    def need(with_look, lo=8192, hi=196608):
        if not passes(with_look, hi):
            raise SystemExit("heap: a look fails even in a heap of %d bytes" % hi)
        while hi - lo > 256:
            mid = (lo + hi) // 2 // 256 * 256
            lo, hi = (lo, mid) if passes(with_look, mid) else (mid, hi)
        return hi

    base, full = need(False), need(True)
    return full - base, full, base


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


def configure(features):
    """(the config sections, the capture site or None) of these features; KeyError on one
    unknown."""
    config = {}
    site = None
    for name in features:
        for section, values in FEATURES[name].items():
            if section == "_site":
                site = values
            else:
                config[section] = dict(config.get(section, {}), **values)
    return config, site


def main(argv=None):  # noqa: C901 (one flat branch per option)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", help="default: %s if present" % os.path.relpath(STAND_IN))
    p.add_argument(
        "--features", default="default", help="comma-separated: %s" % ", ".join(FEATURES)
    )
    p.add_argument("--quick", action="store_true", help="only the steady run and the demo's boot")
    p.add_argument(
        "--workload", help="only this workload: steady, update, look or boot-FOLDER (a capture)"
    )
    p.add_argument("--echo", action="store_true", help="print each run's verdict")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per budget, all of which must pass (runs differ: ports, thread timing)",
    )
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat: at least 1")
    binary = args.binary or (STAND_IN if os.path.exists(STAND_IN) else None)
    try:
        config, site = configure(args.features.split(","))
    except KeyError as e:
        p.error("unknown feature %s" % e)
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
    if not args.quick:
        workloads.append(("update: an install at boot, then the new version", "update"))
    if args.workload == "look":
        work = tempfile.mkdtemp(prefix="heap-")
        releases = Releases(os.path.join(work, "releases"))
        try:
            more, full, base = look(binary, releases, work)
        finally:
            releases.stop()
            shutil.rmtree(work, ignore_errors=True)
        print(
            "heap: %s: a look at a release needs %d bytes (%.1f KB) of heap beyond a running "
            "diverter's modules (a first heap area of %d bytes with it, %d without, no growth)"
            % (os.path.relpath(binary), more, more / 1024, full, base)
        )
        return 0
    if args.workload:
        workloads = [
            w
            for w in workloads + [("update: an install at boot, then the new version", "update")]
            if (w[1] or "steady") == args.workload.replace("boot-", "")
        ][:1]
        if not workloads:
            p.error("no workload %r" % args.workload)
    work = tempfile.mkdtemp(prefix="heap-")
    releases = None
    if "update" in config or any(f == "update" for _, f in workloads):
        releases = Releases(os.path.join(work, "releases"))
        if "update" in config:
            config["update"] = releases.update(releases.same)
    broker = None
    if "mqtt" in config:  # a broker on 127.0.0.1, so that the runs connect and publish
        from tools.sim.broker import Broker

        broker = Broker().start()
        config["mqtt"]["port"] = broker.port
    print("heap: %s, -X heapsize=56K, features: %s" % (os.path.relpath(binary), args.features))
    print("| workload | smallest growth that passes | headroom on an ESP32 |")
    print("|---|---|---|")
    worst = None
    try:
        for name, folder in workloads:

            def once(budget, folder=folder, name=name):
                env = {"ESP32_HEAP_GROW": str(budget)}
                wd = os.path.join(work, "%s-%d" % (folder or "steady", budget))
                if folder is None:
                    problems = steady(binary, env, wd, config, site)
                elif folder == "update":
                    cfg = dict(config, update=releases.update(releases.newer, True))
                    problems = install(binary, env, wd, cfg)
                else:
                    battery = site[1] if site and folder == site[0] else None
                    problems = boot(folder, binary, env, wd, config, battery)
                shutil.rmtree(wd, ignore_errors=True)
                if args.echo:
                    print("  %s at %d: %s" % (name, budget, problems or "ok"), flush=True)
                return problems

            def run(budget, once=once):
                for _ in range(args.repeat):
                    problems = once(budget)
                    if problems:
                        return problems
                return []

            need = smallest(run)
            if need is None:
                print("| %s | fails even at %d | none |" % (name, BOARD_GROWTH), flush=True)
                worst = -1
                continue
            room = BOARD_GROWTH - need
            worst = room if worst is None else min(worst, room)
            print("| %s | %d | %.1f KB |" % (name, need, room / 1024), flush=True)
    finally:
        if releases:
            releases.stop()
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
