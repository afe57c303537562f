"""Where the ESP32's heap goes, module by module: a measuring aid for tools/heap.py.

    python -m tools.bench.heap_modules [--binary PATH] [--features default,burst,...] [--hours 3]

1. Imports: the firmware deployed as .mpy (tools/mpy.py's build), each module imported after
   what it imports (tools/layers.py's graph), under the ESP32 stand-in; the growth of
   gc.mem_alloc() after gc.collect() is that module's resident cost (its bytecode, its
   module-level objects, its names' dict; a new chunk of the interned names' pool counts for
   the module whose names filled the last one, so small modules' figures are lumpy).
2. Residents: the diverter run of tools/heap.py's steady workload with the features given, for
   a few simulated hours, its health line extended with the firmware modules in sys.modules;
   the modules resident at the last health line, with their import cost from 1.

Without ../shared/upy32 it measures with the 64-bit `micropython` (figures about 1.5 times the
ESP32's).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

from tools.bench import heap, soak
from tools.board.hostboard import UPY_LIB
from tools.hostutil import venv_tool
from tools.layers import LAYERS, graph

SKIP = ("compat_cpython",)  # CPython's stand-ins: never on a board

IMPORTS = """import sys
sys.path.insert(0, "app/a")
import gc
gc.collect()
before = gc.mem_alloc()
for name in %r:
    try:
        __import__("firmware." + name)
        what = ""
    except Exception as e:
        what = " (%%r)" %% (e,)
    gc.collect()
    now = gc.mem_alloc()
    print("module %%s %%d%%s" %% (name, now - before, what))
    before = now
"""

# main.py of the resident run: the health line also names the firmware modules loaded. The
# names' list is made only then (a few hundred bytes once an hour).
RESIDENT_MAIN = """from firmware import reports
_health = reports.health
def _with_modules(s):
    import sys
    import micropython
    micropython.qstr_info()  # the interned names' pool: "qstr pool: ... n_total_bytes=N"
    names = [n[9:] for n in sys.modules if n.startswith("firmware.")]
    return _health(s) + " modules=" + ",".join(sorted(names))
reports.health = _with_modules
"""
MODULES = re.compile(r"health uptime_h=\d+ heap_used=(\d+).* modules=(\S*)")
QSTR = re.compile(
    r"qstr pool: n_pool=(\d+), n_qstr=(\d+), n_str_data_bytes=(\d+), n_total_bytes=(\d+)"
)


def order():
    """Every module after the modules it imports (lazily too: tools/layers.py's graph has no
    cycle), lowest layer first: each one's growth is then its own."""
    edges = graph()
    out = []

    def visit(name):
        if name not in out:
            for dep in sorted(edges.get(name, ())):
                visit(dep)
            out.append(name)

    for _, names in LAYERS:
        for name in names.split():
            visit(name)
    return [n for n in out if n not in SKIP]


def imports(binary, work):
    """[(module, bytes, problem)] in import order."""
    board = os.path.join(work, "imports")
    soak.lay_out(board, None, compiled=True)
    with open(os.path.join(board, "imports.py"), "w") as f:
        f.write(IMPORTS % (order(),))
    env = dict(os.environ, ESP32_HEAP_GROW="0")
    if binary == venv_tool("micropython"):
        env["MICROPYPATH"] = ".frozen:" + UPY_LIB
    r = subprocess.run(
        [binary, "-X", "heapsize=400K", "imports.py"],
        cwd=board,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    out = []
    for line in r.stdout.splitlines():
        if line.startswith("module "):
            _, name, size, *rest = line.split(" ", 3)
            out.append((name, int(size), " ".join(rest)))
    if not out:
        raise SystemExit("heap_modules: the imports did not run:\n" + r.stdout + r.stderr)
    return out


def residents(binary, work, features, hours):
    """(heap_used at the last health line, [modules loaded then]) of the steady run."""
    config, site = heap.configure(features)
    releases = broker = None
    if "update" in config:
        releases = heap.Releases(os.path.join(work, "releases"))
        config["update"] = releases.update(releases.same)
    if "mqtt" in config:
        from tools.sim.broker import Broker

        broker = Broker().start()
        config["mqtt"]["port"] = broker.port
    lay_out = soak.lay_out

    def with_modules(folder, cfg=None, compiled=False, **kw):
        done = lay_out(folder, cfg, compiled, **kw)
        for home in (folder, os.path.join(folder, "app", "a")):
            path = os.path.join(home, "main.py")
            if os.path.exists(path):
                with open(path) as f:
                    text = f.read()
                with open(path, "w") as f:
                    f.write(RESIDENT_MAIN + text)
        return done

    soak.lay_out = with_modules
    folder, battery = site or (heap.DEMO_FOLDER, None)
    try:
        res = soak.soak(
            hours,
            "56K",
            720,
            os.path.join(work, "steady"),
            start_hour=8,
            renew_after_h=hours,  # no restart for a login within the run: health lines come hourly
            binary=binary,
            env={"ESP32_HEAP_GROW": str(4 * heap.BOARD_GROWTH)},  # room to list them all
            config=config,
            virtual=True,
            folder=folder,
            battery=battery,
        )
    finally:
        soak.lay_out = lay_out
        if releases:
            releases.stop()
        if broker:
            broker.stop()
    found = [m for m in map(MODULES.search, res["lines"]) if m]
    if not found:
        raise SystemExit("heap_modules: no health line:\n" + "\n".join(res["lines"]))
    pools = [m for m in map(QSTR.search, res["lines"]) if m]
    if pools:
        print(
            "interned names at the last health line: %s pools, %s names, %s bytes in all"
            % pools[-1].group(1, 2, 4)
        )
    return int(found[-1].group(1)), found[-1].group(2).split(",")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", help="default: %s if present" % os.path.relpath(heap.STAND_IN))
    p.add_argument("--features", default="default", help="as tools/heap.py's")
    p.add_argument("--hours", type=int, default=3, help="the resident run's simulated hours")
    p.add_argument("--imports-only", action="store_true", help="skip the resident run")
    args = p.parse_args(argv)
    binary = args.binary or (
        heap.STAND_IN if os.path.exists(heap.STAND_IN) else venv_tool("micropython")
    )
    work = tempfile.mkdtemp(prefix="heap-modules-")
    try:
        costs = imports(binary, work)
        print("heap_modules: %s, imports in layer order" % os.path.relpath(binary))
        if args.imports_only:
            used, resident = None, [n for n, _, _ in costs]
        else:
            used, resident = residents(binary, work, args.features.split(","), args.hours)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| module | import cost (bytes) | resident in the steady run (%s) |" % args.features)
    print("|---|---|---|")
    total = 0
    for name, size, problem in sorted(costs, key=lambda c: -c[1]):
        here = name in resident
        total += size if here else 0
        print("| %s%s | %d | %s |" % (name, problem, size, "yes" if here else ""))
    print(
        "resident modules: %d, their import costs: %d bytes (%.1f KB)"
        % (len(resident), total, total / 1024)
    )
    if used is not None:
        print("heap in use at the last health line (after a collection): %d bytes" % used)
    return 0


if __name__ == "__main__":
    sys.exit(main())
