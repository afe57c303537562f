"""`python -m tools.sim`: the simulated Envoy and cloud on 127.0.0.1 until Ctrl-C (make sim)."""

import argparse
import json
import os
import sys

from tools.sim import DEMO_FOLDER, FIXTURES, ROOT, Simulation
from tools.sim.server import until_stopped


def _shown(path: str) -> str:
    """A path as the user should type it from the repository root."""
    rel = os.path.relpath(path, ROOT)
    return path if rel.startswith("..") else rel


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="Run the simulated Envoy and Enphase cloud on 127.0.0.1 until Ctrl-C, to try"
        " tools.token, tools.envoy_read and tools.envoy_pin without hardware."
    )
    p.add_argument(
        "--folder", default=DEMO_FOLDER, help="capture folder under tools/fixtures/envoy"
    )
    p.add_argument("--envoy-port", type=int, default=0, help="default: any free port")
    p.add_argument("--cloud-port", type=int, default=0, help="default: any free port")
    p.add_argument("--config", default=os.path.join(ROOT, "build", "sim", "config.json"))
    p.add_argument("--pki", default=os.path.join(ROOT, "build", "pki"), help="test CA folder")
    args = p.parse_args(argv)
    if not os.path.isfile(os.path.join(FIXTURES, args.folder, "info")):
        folders = sorted(d for d in os.listdir(FIXTURES) if d[0].isdigit())
        p.error("no capture folder %r; choose one of: %s" % (args.folder, ", ".join(folders)))
    sim = Simulation(args.folder, pki_dir=args.pki)
    sim.envoy.port, sim.cloud.port = args.envoy_port, args.cloud_port
    try:
        sim.start()
    except OSError as e:
        p.error("cannot listen on 127.0.0.1: %s" % e)
    cfg = sim.config()
    cfg["control"] = {}  # the field defaults, as in a real config.json
    os.makedirs(os.path.dirname(os.path.abspath(args.config)), exist_ok=True)
    with open(args.config, "w") as f:
        json.dump(cfg, f, indent=2)
    envoy = sim.envoy
    py, conf = _shown(sys.executable), _shown(os.path.abspath(args.config))
    print(
        "sim: Envoy %s serial %s (capture %s) at %s://%s"
        % (envoy.software, envoy.serial, args.folder, "https" if envoy.tls else "http", envoy.host)
    )
    print(
        "sim: Enlighten and Entrez at https://127.0.0.1:%d, certificate from the test CA %s"
        % (sim.cloud.port, _shown(sim.pki["ca_der"]))
    )
    print("sim: wrote %s (the cloud URLs, the test CA, the Envoy's host:port)" % conf)
    print("try, from %s in another terminal:" % ROOT)
    print("  %s -m tools.token --config %s" % (py, conf))
    print("  %s -m tools.envoy_read --config %s" % (py, conf))
    if envoy.tls:
        print("  %s -m tools.envoy_pin --host %s" % (py, envoy.host))
    else:
        print("  (firmware %s speaks plain HTTP: no certificate to pin)" % envoy.software)
    print("sim: running; Ctrl-C stops it", flush=True)
    until_stopped(sim.stop)
    print("sim: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
