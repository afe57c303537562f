"""Poll benchmark (make bench): the firmware's Envoy poll under the micropython binary against the
simulated Envoy, three ways, in the same run:

- keep-alive: the firmware as it runs (one TLS connection for every poll);
- new connection per poll: the same client, closing after each poll;
- micropython-lib requests: what most MicroPython projects use (HTTP/1.0, a connection per call).

For each: TLS handshakes, median poll time, Python-heap bytes allocated per poll, and the peak
heap in use during a poll above the idle heap. Times are this host's, not an ESP32's: there a TLS
handshake costs about a second, which is the point of keep-alive.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from tools.hostutil import venv_tool
from tools.sim import ROOT, Simulation, make_jwt


def measure(sim, token, mode, polls, tmp, battery=None):
    job = os.path.join(tmp, "job.json")
    with open(job, "w") as f:
        json.dump(
            {
                "mode": mode,
                "polls": polls,
                "port": sim.envoy.port,
                "token": token,
                "battery": battery,
            },
            f,
        )
    before = sim.envoy.handshakes
    r = subprocess.run(
        [
            venv_tool("micropython"),
            os.path.join(ROOT, "tools", "bench", "upy_poll_bench.py"),
            job,
            ROOT,
        ],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if r.returncode:
        raise SystemExit("benchmark failed (%s):\n%s%s" % (mode, r.stdout, r.stderr))
    result = json.loads(r.stdout.strip().splitlines()[-1])
    result["handshakes"] = sim.envoy.handshakes - before - 1  # minus the setup connection
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--polls", type=int, default=200)
    p.add_argument(
        "--battery",
        metavar="FOLDER",
        help="instead: a battery capture, its poll read four ways (grid only, grid and storage "
        "CT per meter, all meters, grid and /ivp/ensemble/power)",
    )
    args = p.parse_args(argv)
    if args.battery:
        return battery_ways(args.battery, args.polls)
    with tempfile.TemporaryDirectory() as tmp:
        sim = Simulation(pki_dir=os.path.join(ROOT, "build", "pki")).start()
        try:
            token = make_jwt(sim.envoy.serial, "bench@example.com", sim.clock.now())
            sim.authority.add(token)
            rows = [
                measure(sim, token, m, args.polls, tmp)
                for m in ("keepalive", "reconnect", "requests")
            ]
        finally:
            sim.stop()
    names = {
        "keepalive": "keep-alive (the firmware)",
        "reconnect": "new connection per poll",
        "requests": "micropython-lib requests",
    }
    print(
        "Envoy poll, %d polls of /ivp/meters/readings/<eid> under the micropython binary:"
        % args.polls
    )
    print(
        "| client | TLS handshakes | median poll | heap allocated per poll"
        " | peak heap during a poll |"
    )
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            "| %s | %d | %.2f ms | %d B (max %d B) | %d B |"
            % (
                names[r["mode"]],
                r["handshakes"],
                r["median_ms"],
                r["alloc_median"],
                r["alloc_max"],
                r["peak_over_idle"],
            )
        )
    return 0


def battery_ways(folder, polls):
    from tools.sim import SimBattery

    ways = [
        ("grid-only", "grid CT only (a site without a battery)"),
        ("per-meter", "grid CT + storage CT, one meter each (the firmware)"),
        ("all-meters", "all meters in one body"),
        ("ensemble", "grid CT + /ivp/ensemble/power"),
    ]
    print("Battery site %s, %d polls under the micropython binary:" % (folder, polls))
    print("| poll | requests | median poll | heap allocated per poll | peak heap during a poll |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        sim = Simulation(folder, pki_dir=os.path.join(ROOT, "build", "pki")).start()
        sim.envoy.live = lambda t: (3000.0, -1200.0)
        sim.envoy.battery = SimBattery(soc_pct=60)
        try:
            token = make_jwt(sim.envoy.serial, "bench@example.com", sim.clock.now())
            sim.authority.add(token)
            for way, name in ways:
                before = len(sim.envoy.requests)
                try:
                    r = measure(sim, token, "keepalive", polls, tmp, way)
                except SystemExit as e:
                    print("| %s | - | fails: %s | | |" % (name, str(e).strip().splitlines()[-1]))
                    continue
                setup = 4  # /info, check_jwt, /ivp/meters, one meter
                n = (len(sim.envoy.requests) - before - setup) / polls
                print(
                    "| %s | %.0f | %.2f ms | %d B (max %d B) | %d B |"
                    % (
                        name,
                        n,
                        r["median_ms"],
                        r["alloc_median"],
                        r["alloc_max"],
                        r["peak_over_idle"],
                    )
                )
        finally:
            sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
