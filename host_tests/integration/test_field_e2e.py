# Enphase's changes of 2025-2026 under a board on the wall (issue 19), end to end: the real
# main.py under the micropython binary against the simulator, which plays each change. Nobody is
# at the REPL: the board must get through each by itself.
import json

SIM_SPEED = 10  # a minute passes in 6 s
NEW_FIRMWARE = "D8.3.5528"


def secrets_absent(b, sim):
    out = b.output()
    for secret in [sim.cloud.password, *sim.cloud.sessions, *sim.cloud.issued]:
        assert secret not in out, "a secret reached the console"
    for session in sim.cloud.web_sessions:
        assert session not in out, "the web login's session reached the console"


def running(sim, board, cfg=None):
    sim.envoy.live = sim.steady(3000, -2600)
    b = board(cfg)
    b.wait_for("relay=on reason=surplus", 40)
    b.booted = b.resets  # the first login restarts the board once, into a fresh heap
    return b


def test_every_cloud_request_carries_the_user_agent_enphase_demands(sim, board):
    b = running(sim, board)
    assert sim.cloud.logins == 1 and sim.cloud.agents  # the sim refuses requests without one
    assert all(a.startswith("Mozilla/5.0 (compatible; envoy-diverter/") for a in sim.cloud.agents)
    secrets_absent(b, sim)


def test_a_failed_login_says_what_the_cloud_answered(sim, board):
    sim.cloud.behaviour = "5xx"
    b = board()
    line = b.wait_for("token: Enlighten login: Enphase's server failed (503)", 30)
    assert 'Enphase answered 503 "<html>Service Unavailable</html>"' in line
    assert "next login attempt in 5 min" in line
    secrets_absent(b, sim)


def test_a_gone_tokens_endpoint_is_replaced_by_the_entrez_web_login(sim, board):
    sim.cloud.behaviour = "tokens-gone"
    b = running(sim, board)
    line = b.wait_for("token: new owner token", 5)
    assert "from Entrez's web login" in line
    assert sim.cloud.logins == 2 and sim.cloud.web_logins == 1
    record = json.loads((b.dir / "cloud.json").read_text())
    assert len(record["attempts"]) == 2  # the account guard counted both
    assert json.loads((b.dir / "token.json").read_text())["via"] == "web"
    secrets_absent(b, sim)


def test_an_envoy_firmware_update_with_a_new_certificate_is_re_pinned_by_itself(sim, board):
    b = running(sim, board)
    pin = json.loads((b.dir / "envoy_pin.json").read_text())
    assert pin["software"] == sim.envoy.software and pin["serial"] == sim.envoy.serial
    old = sim.envoy.software
    n = len(b.lines)
    sim.envoy.update_firmware(NEW_FIRMWARE)
    b.wait_for("relay=off reason=pin-mismatch", 30, after=n)
    line = b.wait_for("envoy: re-pinned: firmware %s -> %s" % (old, NEW_FIRMWARE), 40, after=n)
    b.wait_for("relay=on", 60, after=b.lines.index(line))
    assert json.loads((b.dir / "envoy_pin.json").read_text())["software"] == NEW_FIRMWARE
    assert sim.cloud.logins == 1 and b.resets == b.booted  # no login, no restart: the token works


def test_an_all_zero_reading_is_stale_never_0_w(sim, board):
    b = running(sim, board)
    n = len(b.lines)
    sim.envoy.fault = "all-zero"
    # 0 W would look balanced and keep the heater on from the grid: it must go OFF on stale.
    b.wait_for("envoy: a bogus reading ignored (the grid CT reads 0 W at 0 V, a bug", 20, after=n)
    b.wait_for("relay=off reason=stale", 30, after=n)
    sim.envoy.fault = None
    b.wait_for("relay=on", 60, after=len(b.lines))
    out = "\n".join(b.lines[n:])
    assert "no-ct" not in out and "no consumption CT" not in out
    assert b.count("a bogus reading ignored") == 1  # said once, not every poll


def test_a_night_silence_then_a_refusing_envoy_costs_no_login_and_no_restart(sim, board):
    b = running(sim, board)
    n = len(b.lines)
    sim.envoy.stop()  # about 11 pm: the Envoy goes quiet for minutes
    b.wait_for("relay=off reason=envoy-down", 30, after=n)
    b.wait_for("summary", 70, after=len(b.lines))
    b.wait_for("summary", 70, after=len(b.lines))
    sim.envoy.reboot()
    sim.envoy.fault = "401"  # back, but refusing the token for a while as it starts
    sim.envoy.start()
    b.wait_for("the token was refused", 60, after=n)
    b.wait_for("summary", 70, after=len(b.lines))
    sim.envoy.fault = None
    b.wait_for("relay=on", 120, after=len(b.lines))
    assert sim.cloud.logins == 1, "the night silence led to a cloud login"
    assert b.resets == b.booted, "the night silence led to a restart"
    assert "a new one is needed" not in b.output()
    assert json.loads((b.dir / "token.json").read_text())["token"] == sim.cloud.issued[0]


def test_a_401_on_the_battery_endpoints_is_not_a_bad_token(sim, board):
    sim.envoy.refused_paths = ("/ivp/ensemble",)
    b = running(sim, board)
    b.wait_for("summary", 70, after=len(b.lines))
    assert sim.cloud.logins == 1 and b.resets == b.booted
    assert "the token was refused" not in b.output()
    assert any(r[1].startswith("/ivp/ensemble") for r in sim.envoy.requests)  # it was asked


def test_a_root_certificate_file_over_its_cap_is_said_not_a_crash_loop(sim, board, tmp_path):
    # enlighten.ca_file naming a large file (a log, a PEM bundle): refused by its size, said,
    # and the board waits without a token (relay OFF), never crashing at every boot.
    big = tmp_path / "big.der"
    big.write_bytes(b"\x30" * 5000)
    cfg = sim.config()
    cfg["enlighten"]["ca_file"] = str(big)
    b = board(cfg)
    line = b.wait_for("token: no login: ", 30)
    assert "the certificate %s: over 4096 bytes" % big in line
    at = 0
    for _ in range(5):  # five minutes on the wall: one restart for the login, no more
        at = b.lines.index(b.wait_for("reason=no-token", 30, at)) + 1
    assert b.resets <= 1 and b.count("token: no login: ") <= 2, b.output()
    assert "fatal" not in b.output() and sim.cloud.logins == 0
