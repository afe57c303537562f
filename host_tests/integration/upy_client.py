# Run by the `micropython` binary from test_envoy_micropython.py: the firmware's Envoy client on
# the unix port (mbedtls, verify_callback pinning) against simulated Envoys. argv[1]: a JSON job.
import json
import sys

sys.path.insert(0, sys.argv[2])
from firmware.envoy import Envoy  # noqa: E402

with open(sys.argv[1]) as f:
    job = json.load(f)

for case in job["cases"]:
    out = {"folder": case["folder"]}
    try:
        e = Envoy("127.0.0.1", case["port"], case.get("pin", "off"))
        e.probe()
        if e.needs_token():
            e.login(case["token"])
        e.discover()
        out["net"] = e.read()[0]
        for _ in range(case.get("polls", 1) - 1):
            e.read()
        out["handshakes"] = e.handshakes()
        e.close()
    except Exception as err:
        out["error"] = type(err).__name__
        out["reason"] = str(err)
    print(json.dumps(out))
