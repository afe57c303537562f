# The PC-side helpers (tools.token, tools.envoy_read, tools.envoy_pin) run the firmware's code
# under CPython against the simulator: what they print and their exit status.
import json
import subprocess
import sys

from conftest import ROOT, token_for

from tools.sim.certs import sha256_of_pem


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


# -- the account guard and token reuse ----------------------------------------------------------


def test_token_tool_reuses_the_stored_token_instead_of_logging_in_again(sim, tmp_path):
    config = write_config(sim, tmp_path)
    code, out = run("tools.token", "--config", config, cwd=tmp_path)
    assert code == 0 and sim.cloud.logins == 1, out
    code, out = run("tools.token", "--config", config, cwd=tmp_path)
    assert code == 0 and sim.cloud.logins == 1, out
    assert "no cloud login" in out and "365 days left" in out
    assert sorted(p.name for p in (tmp_path / ".diverter").iterdir()) == [
        "cloud.json",
        "token.json",
    ]
    assert not (tmp_path / "token.json").exists() and not (tmp_path / "cloud.json").exists()
    assert sim.cloud.issued[0] not in out


def test_token_tool_backs_off_after_a_failed_login(sim, tmp_path):
    sim.cloud.behaviour = "bad-credentials"
    config = write_config(sim, tmp_path)
    code, out = run("tools.token", "--config", config, "--serial", "1", cwd=tmp_path)
    assert code == 1 and "wrong e-mail or password" in out and "5 min" in out, out
    sim.cloud.behaviour = None
    code, out = run("tools.token", "--config", config, "--serial", "1", cwd=tmp_path)
    assert code == 1 and sim.cloud.logins == 1, out
    assert "no cloud login now: the next one is allowed in 5 min" in out
    assert "1 failure(s) in a row" in out and "Traceback" not in out


def test_token_tool_logs_in_at_most_six_times_a_day(sim, tmp_path):
    config = write_config(sim, tmp_path)
    for _ in range(7):
        code, out = run("tools.token", "--config", config, "--new", cwd=tmp_path)
    assert sim.cloud.logins == 6
    assert code == 1 and "6 login(s) in the last 24 h" in out, out


def test_envoy_read_uses_the_token_the_token_tool_stored(sim, tmp_path):
    config = write_config(sim, tmp_path)
    assert run("tools.token", "--config", config, cwd=tmp_path)[0] == 0
    code, out = run("tools.envoy_read", "--config", config, cwd=tmp_path)
    assert code == 0 and "net_w=199" in out, out
    assert "token: the one stored in" in out and sim.cloud.logins == 1


def test_envoy_read_drops_a_stored_token_the_envoy_refuses(sim, tmp_path):
    config = write_config(sim, tmp_path)
    assert run("tools.token", "--config", config, cwd=tmp_path)[0] == 0
    sim.authority.revoke_all()
    code, out = run("tools.envoy_read", "--config", config, cwd=tmp_path)
    assert code == 1 and "was refused; the next run logs in" in out, out
    code, out = run("tools.envoy_read", "--config", config, cwd=tmp_path)
    assert code == 0 and "token: fetched from Enlighten" in out and sim.cloud.logins == 2, out


# -- the Envoy's certificate -------------------------------------------------------------------


def pin_of(sim):
    return sha256_of_pem(sim.pki["envoy_pem"])


def test_envoy_read_enforces_a_hex_pin_from_the_config(sim, tmp_path):
    config = write_config(sim, tmp_path, envoy={"pin": pin_of(sim)})
    code, out = run("tools.envoy_read", "--config", config, cwd=tmp_path)
    assert code == 0 and "certificate: pinned (envoy.pin)" in out, out
    logins = sim.cloud.logins
    config = write_config(sim, tmp_path, envoy={"pin": "00" * 32})
    code, out = run("tools.envoy_read", "--config", config, cwd=tmp_path)
    assert code == 4 and "refused: the Envoy's certificate changed" in out, out
    assert sim.cloud.logins == logins and "net_w" not in out


def test_envoy_read_pin_on_the_command_line(sim, tmp_path):
    token = token_for(sim.envoy, sim)
    host = sim.envoy.host
    code, out = run(
        "tools.envoy_read", "--host", host, "--token", token, "--pin", "ab" * 32, cwd=tmp_path
    )
    assert code == 4 and "certificate changed" in out, out
    assert not any(r[1] == "/auth/check_jwt" for r in sim.envoy.requests)
    code, out = run(
        "tools.envoy_read", "--host", host, "--token", token, "--pin", pin_of(sim), cwd=tmp_path
    )
    assert code == 0 and "net_w=199" in out, out
    code, out = run("tools.envoy_read", "--host", host, "--pin", "xyz", cwd=tmp_path)
    assert code == 2 and "--pin: expected 64 hex digits" in out


def test_envoy_read_checks_tofu_against_a_copy_of_the_board_pin(sim, tmp_path):
    token = token_for(sim.envoy, sim)
    host = sim.envoy.host
    good = tmp_path / "board_pin.json"
    good.write_text(json.dumps({"sha256": pin_of(sim), "https": True}))
    code, out = run(
        "tools.envoy_read", "--host", host, "--token", token, "--pin-file", str(good), cwd=tmp_path
    )
    assert code == 0 and "checked against the board's pin" in out, out
    other = tmp_path / "other_pin.json"
    other.write_text(json.dumps({"sha256": "cd" * 32}))
    code, out = run(
        "tools.envoy_read",
        "--host",
        host,
        "--token",
        token,
        "--pin-file",
        str(other),
        cwd=tmp_path,
    )
    assert code == 4 and "certificate changed" in out, out
    nopin = tmp_path / "https_only.json"
    nopin.write_text(json.dumps({"https": True}))
    code, out = run("tools.envoy_read", "--host", host, "--pin-file", str(nopin), cwd=tmp_path)
    assert code == 2 and "holds no pinned certificate" in out, out


def test_envoy_read_tofu_without_a_pin_file_shows_what_it_did_not_check(sim, tmp_path):
    token = token_for(sim.envoy, sim)
    code, out = run("tools.envoy_read", "--host", sim.envoy.host, "--token", token, cwd=tmp_path)
    assert code == 0, out
    assert "certificate: sha256=%s, not checked (envoy.pin is tofu" % pin_of(sim) in out
    assert not (tmp_path / "envoy_pin.json").exists()


def test_envoy_read_refuses_a_plain_http_impostor_when_pinned(sim, tmp_path):
    from test_envoy_impostor import impostor_on, secrets_sent

    config = write_config(sim, tmp_path, envoy={"pin": pin_of(sim)})
    assert run("tools.token", "--config", config, cwd=tmp_path)[0] == 0
    impostor = impostor_on(sim, "4.10.35")
    try:
        code, out = run("tools.envoy_read", "--config", config, cwd=tmp_path)
        assert code == 4 and "claims old firmware R4.10.35" in out, out
        assert secrets_sent(impostor) == []
    finally:
        impostor.stop()


def test_token_tool_reads_the_serial_only_from_the_pinned_envoy(sim, tmp_path):
    config = write_config(sim, tmp_path, envoy={"pin": "00" * 32})
    code, out = run("tools.token", "--config", config, cwd=tmp_path)
    assert code == 1 and "could not read the serial" in out and "certificate changed" in out, out
    assert sim.cloud.logins == 0
    config = write_config(sim, tmp_path, envoy={"pin": "tofu"})
    code, out = run("tools.token", "--config", config, "--pin", pin_of(sim), cwd=tmp_path)
    assert code == 0 and "Envoy serial 122446001637 (from its /info)" in out, out
