# The real firmware (main.py under the micropython binary, on the simulated board) against the
# simulated Envoy and cloud.
import json
import os

from conftest import ROOT, token_for

SIM_SPEED = 10  # the simulated clock (and board) run 10x: a minute passes in 6 s


def secrets_absent(b, sim, extra=()):
    out = b.output()
    for secret in [sim.cloud.password, *sim.cloud.sessions, *sim.cloud.issued, *extra]:
        assert secret not in out, "a secret reached the console"


def test_first_boot_logs_in_once_stores_the_token_and_a_restart_does_not(sim, board):
    sim.envoy.live = sim.steady(3000, -2600)
    b = board()
    b.wait_for("relay=on reason=surplus", 30)
    assert sim.cloud.logins == 1 and sim.cloud.token_requests == 1
    stored = json.loads((b.dir / "token.json").read_text())["token"]
    assert stored == sim.cloud.issued[0]
    b.wait_for("heater: heating", 15)
    b.stop()
    b.wait_for("stopped: relay OFF")
    secrets_absent(b, sim)

    again = board(fresh=False)
    again.wait_for("token: stored owner token", 10)
    again.wait_for("relay=on", 30)
    assert sim.cloud.logins == 1, "a restart must not log in again"
    secrets_absent(again, sim)


def test_config_problems_are_listed_and_nothing_starts(sim, board):
    cfg = sim.config()
    cfg["control"]["min_on_s"] = -1
    cfg["heater"]["relay_pin"] = 7
    cfg["control"]["pol_s"] = 3
    b = board(cfg)
    b.proc.wait(20)
    out = b.output()
    assert "config: control.min_on_s: -1 is out of range" in out
    assert "config: heater.relay_pin: GPIO 7 is wired to the flash chip" in out
    assert "config: control.pol_s: unknown key" in out
    assert "3 problem(s): relay stays OFF and the cloud is not contacted" in out
    assert b.proc.returncode == 0  # back to the REPL, no crash loop
    assert sim.cloud.logins == 0 and sim.envoy.requests == []


def test_the_example_config_unedited_is_refused_on_the_board(sim, board):
    with open(os.path.join(ROOT, "config.example.json")) as f:
        cfg = json.load(f)
    cfg["envoy"]["host"] = sim.envoy.host
    b = board(cfg)
    b.proc.wait(20)
    out = b.output()
    assert "config: wifi.ssid: 'MyHomeWiFi' is the example's; put your Wi-Fi network's name" in out
    assert (
        "config: enlighten.email: 'you@example.com' is the example's; put your Enlighten login"
        in out
    )
    assert "4 problem(s): relay stays OFF and the cloud is not contacted" in out
    assert b.proc.returncode == 0
    assert sim.cloud.logins == 0 and sim.envoy.requests == []


def test_missing_config_file(sim, board):
    b = board()
    os.remove(b.dir / "config.json")
    b.kill()
    b = board(fresh=False)
    b.proc.wait(20)
    assert "config.json: not found; copy config.example.json" in b.output()


def test_safe_mode_file_keeps_the_diverter_stopped(sim, board, tmp_path):
    b = board()
    b.kill()
    (b.dir / "safemode").write_text("")
    b = board(fresh=False)
    b.proc.wait(20)
    assert "safe mode: the file safemode exists" in b.output()
    assert sim.envoy.requests == []


def test_pasted_token_never_contacts_the_cloud(sim, board):
    sim.envoy.live = sim.steady(3000, -2600)
    cfg = sim.config()
    pasted = token_for(sim.envoy, sim)
    cfg["envoy"]["token"] = pasted
    cfg["enlighten"] = {}
    b = board(cfg)
    b.wait_for("token: pasted owner token", 10)
    b.wait_for("relay=on", 30)
    b.wait_for("days left", 5)
    assert sim.cloud.logins == 0
    secrets_absent(b, sim, [pasted])


def test_clock_not_set_refuses_to_log_in(sim, board):
    b = board()
    (b.simdir / "clock_unset").write_text("")
    b.kill()
    b = board(fresh=False)
    b.wait_for("clock: not set (NTP failed)", 15)
    b.wait_for(
        "the clock is not set, so the cloud's certificate cannot be checked; not logging in", 15
    )
    assert sim.cloud.logins == 0
    assert b.count("relay=on") == 0


def test_wrong_password_backs_off_instead_of_retrying(sim, board):
    cfg = sim.config()
    cfg["enlighten"]["password"] = "wrong"
    b = board(cfg)
    line = b.wait_for("wrong e-mail or password (401); Enphase answered 401", 20)
    assert line.endswith("; next login attempt in 5 min")
    b.wait_for("summary", 15)
    assert sim.cloud.logins == 1
    assert "wrong" not in b.output().replace("wrong e-mail", "")


def test_the_last_words_survive_a_power_cut(sim, board):
    sim.envoy.live = sim.steady(3000, -2600)
    b = board()
    b.wait_for("relay=on reason=surplus", 30)
    sim.envoy.stop()  # the Envoy goes away: a problem line
    b.wait_for("envoy: connection refused", 20)
    b.wait_for("summary", 15)  # the minute's work saves the last words
    b.kill()
    assert "connection refused" in (b.dir / "lastwords.json").read_text()
    sim.envoy.start()
    again = board(fresh=False)
    line = again.wait_for("lastwords: the previous run began by a software reset", 10)
    assert "connection refused" in line
    again.wait_for("relay=on", 30)
