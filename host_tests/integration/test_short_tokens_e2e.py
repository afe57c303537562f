# An installer (or self-installer) account: Entrez hands out tokens of 12 hours. The real main.py
# under micropython warns once, clearly, and renews each token at half-life (a restart for the
# login at boot), within the account guard's limit of 6 logins a day.
import json

SIM_SPEED = 720  # an hour passes in 5 s


def test_twelve_hour_tokens_warn_once_and_renew_in_time(sim, board):
    sim.cloud.token_lifetime_s = 12 * 3600
    sim.cloud.token_role = "installer"
    sim.envoy.live = sim.steady(3000, -2600)
    b = board()
    line = b.wait_for("token: new installer token", 30)
    assert "12.0 hours left" in line and "tokens of 12 hours" in line
    for _ in range(2):  # 12 hours: two renewals at half-life
        b.wait_for("a cloud login is due (a 12-hour token past half-life)", 60, after=len(b.lines))
        b.wait_for("token: new installer token", 30, after=len(b.lines))
    assert b.count("tokens of 12 hours") == 1, "the warning is said once"
    assert sim.cloud.logins == 3
    record = json.loads((b.dir / "cloud.json").read_text())
    assert len(record["attempts"]) <= 6
    assert "the token was refused" not in b.output() and "expired" not in b.output()
