# Run by the `micropython` binary from the integration tests: the firmware's Envoy client on the
# unix port (mbedtls, verify_callback pinning) against simulated Envoys. argv[1]: a JSON job of
# cases, run in order in one process (the board's RAM); a case with "wait" prints WAIT and reads a
# line from stdin first, so that the test can change the servers mid-run.
import json
import sys

sys.path.insert(0, sys.argv[2])
from firmware.envoy import Envoy  # noqa: E402
from firmware.envoy_parse import NoNetPower, PinMismatch  # noqa: E402

with open(sys.argv[1]) as f:
    job = json.load(f)


def app_poll(e, token):
    # What link.Link._connect and _poll do with the Envoy.
    if not e.ready():
        if e.version is None:
            e.probe()
        if e.needs_token():
            e.login(token)
        e.discover()
    return e.read()[0]


def app_polls(e, token, n):
    # The app's error handling: a pin problem or no CT resets; other errors close, and five in a
    # row reset (a new /info probe).
    nets, errors, streak = [], [], 0
    for _ in range(n):
        try:
            nets.append(app_poll(e, token))
            streak = 0
        except (PinMismatch, NoNetPower) as err:
            errors.append([type(err).__name__, str(err)])
            e.reset()
        except Exception as err:
            errors.append([type(err).__name__, str(err)])
            e.close()
            streak += 1
            if streak >= 5:
                e.reset()
                streak = 0
    return nets, errors


envoys = {}
for case in job["cases"]:
    if case.get("wait"):
        print("WAIT")
        sys.stdin.readline()
    out = {"folder": case["folder"]}
    name = case.get("envoy")
    e = envoys.get(name)
    if e is None:
        args = ("127.0.0.1", case["port"], case.get("pin", "off"), case.get("timeout", 10))
        e = Envoy(*args, pin_file=case["pin_file"]) if "pin_file" in case else Envoy(*args)
        if name:
            envoys[name] = e
    try:
        if case.get("app"):
            out["nets"], out["errors"] = app_polls(e, case["token"], case["app"])
        else:
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
