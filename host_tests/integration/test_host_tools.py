# The PC-side helpers (tools.token, tools.envoy_read, tools.envoy_pin) run the firmware's code
# under CPython against the simulator: what they print and their exit status.
import json
import subprocess
import sys

from conftest import ROOT, token_for

from tools.certs import sha256_of_pem


def run(*args, cwd):
    r = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": ROOT, "PATH": "/usr/bin:/bin"},
    )
    return r.returncode, r.stdout + r.stderr


def write_config(sim, tmp_path, **overrides):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(sim.config(**overrides)))
    return str(path)


def test_token_tool_logs_in_and_hides_the_token(sim, tmp_path):
    code, out = run("tools.token", "--config", write_config(sim, tmp_path), cwd=tmp_path)
    assert code == 0, out
    assert "Envoy serial 122446001637 (from its /info)" in out
    assert "ok: owner token for Envoy 122446001637, user owner@example.com" in out
    assert "365 days left" in out
    assert sim.cloud.issued[0] not in out and sim.cloud.password not in out
    code, out = run("tools.token", "--config", write_config(sim, tmp_path), "--show", cwd=tmp_path)
    assert sim.cloud.issued[-1] in out


def test_token_tool_reports_a_cloud_failure(sim, tmp_path):
    sim.cloud.behaviour = "mfa"
    code, out = run(
        "tools.token", "--config", write_config(sim, tmp_path), "--serial", "1", cwd=tmp_path
    )
    assert code == 1 and "multi-factor" in out and "Traceback" not in out


def test_token_tool_refuses_a_bad_config(sim, tmp_path):
    code, out = run(
        "tools.token", "--config", write_config(sim, tmp_path, control={"pol_s": 1}), cwd=tmp_path
    )
    assert code == 2 and "control.pol_s: unknown key" in out


def test_envoy_read_prints_firmware_meter_and_net(sim, tmp_path):
    sim.envoy.live = lambda t: (3000.0, -1500.0)
    code, out = run(
        "tools.envoy_read",
        "--host",
        sim.envoy.host,
        "--token",
        token_for(sim.envoy, sim),
        cwd=tmp_path,
    )
    assert code == 0, out
    assert "firmware D8.2.4345, serial 122446001637, HTTPS with a token" in out
    assert "meter: net-consumption CT eid 704643584" in out
    assert out.strip().endswith("net_w=-1500")
    assert not (tmp_path / "envoy_pin.json").exists()


def test_envoy_read_with_config_fetches_a_token(sim, tmp_path):
    code, out = run("tools.envoy_read", "--config", write_config(sim, tmp_path), cwd=tmp_path)
    assert code == 0 and "token: fetched from Enlighten" in out and "net_w=199" in out, out


def test_envoy_read_explains_an_envoy_without_net_power(sim, envoy_for, tmp_path):
    served = envoy_for("7.3.466_metered_disabled_cts")
    code, out = run(
        "tools.envoy_read", "--host", served.host, "--token", token_for(served, sim), cwd=tmp_path
    )
    assert code == 3, out
    assert "no consumption CT: net power is unavailable" in out and "Traceback" not in out


def test_envoy_read_unreachable(sim, tmp_path):
    port = sim.envoy.port
    sim.envoy.stop()
    code, out = run("tools.envoy_read", "--host", "127.0.0.1:%d" % port, cwd=tmp_path)
    assert code == 1 and "could not read the Envoy" in out and "Traceback" not in out


def test_envoy_pin_prints_the_certificate_hash(sim, tmp_path):
    code, out = run("tools.envoy_pin", "--host", sim.envoy.host, cwd=tmp_path)
    assert code == 0, out
    assert "sha256=%s" % sha256_of_pem(sim.pki["envoy_pem"]) in out
