# The firmware's Envoy client under the micropython binary (the stand-in board), against the
# simulated Envoy with real TLS: every captured setup, keep-alive, and pinning via verify_callback.
import json
import subprocess

from conftest import ROOT, token_for
from envoy_cases import EXPECTED

from tools.hostutil import venv_tool
from tools.sim import SimEnvoy
from tools.sim.certs import sha256_of_pem


def run_upy(tmp_path, cases):
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"cases": cases}))
    r = subprocess.run(
        [venv_tool("micropython"), ROOT + "/host_tests/integration/upy_client.py", str(job), ROOT],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def test_every_captured_envoy_under_micropython(sim, tmp_path):
    envoys = []
    try:
        cases = []
        for folder in sorted(EXPECTED):
            e = SimEnvoy(folder, sim.pki, sim.clock, sim.authority).start()
            envoys.append(e)
            cases.append(
                {"folder": folder, "port": e.port, "token": token_for(e, sim), "pin_file": None}
            )
        results = run_upy(tmp_path, cases)
    finally:
        for e in envoys:
            e.stop()
    assert len(results) == len(EXPECTED)
    for r in results:
        want = EXPECTED[r["folder"]]
        if isinstance(want, int):
            assert r.get("net") == want, r
        else:
            assert r.get("error") == "NoNetPower" and want in r["reason"], r


def test_keep_alive_under_micropython(sim, tmp_path):
    [r] = run_upy(
        tmp_path,
        [{"folder": "x", "port": sim.envoy.port, "token": token_for(sim.envoy, sim), "polls": 30}],
    )
    assert r["net"] == 199 and r["handshakes"] == 1, r
    assert sim.envoy.handshakes == 1


def test_tofu_pin_under_micropython_refuses_a_new_certificate(sim, tmp_path):
    impostor = SimEnvoy(sim.envoy.folder.rsplit("/", 1)[1], sim.pki, sim.clock, sim.authority)
    impostor.cert = "envoy2"
    impostor.start()
    try:
        token = token_for(sim.envoy, sim)
        first, second = run_upy(
            tmp_path,
            [
                {"folder": "real", "port": sim.envoy.port, "token": token, "pin": "tofu"},
                {"folder": "impostor", "port": impostor.port, "token": token, "pin": "tofu"},
            ],
        )
    finally:
        impostor.stop()
    assert first["net"] == 199, first
    pinned = json.loads((tmp_path / "envoy_pin.json").read_text())["sha256"]
    assert pinned == sha256_of_pem(sim.pki["envoy_pem"])  # the hash verify_callback saw
    assert second["error"] == "PinMismatch" and "diag.repin()" in second["reason"], second
    # The probe's /info, to tell a firmware update; it shows the same firmware: refused, and
    # nothing secret was sent.
    assert impostor.handshakes == 1 and impostor.requests == [("GET", "/info", False, False)]
