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


def measure(sim, token, mode, polls, tmp):
    job = os.path.join(tmp, "job.json")
    with open(job, "w") as f:
        json.dump({"mode": mode, "polls": polls, "port": sim.envoy.port, "token": token}, f)
    before = sim.envoy.handshakes
    r = subprocess.run(
        [venv_tool("micropython"), os.path.join(ROOT, "tools", "upy_poll_bench.py"), job, ROOT],
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--polls", type=int, default=200)
    args = p.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
