# The whole firmware (main.py under the micropython binary, on the simulated board) when a
# plain-HTTP impostor claiming old firmware takes the Envoy's address: relay OFF, a clear console
# line, mid-run and after a reboot, and neither the token nor the cookie reaches it.
from test_envoy_impostor import DOWNGRADE, impostor_on, secrets_sent

SIM_SPEED = 10  # the simulated clock (and board) run 10x


def test_the_firmware_turns_off_and_says_why_when_an_impostor_downgrades(sim, board):
    sim.envoy.live = sim.steady(3000, -2600)
    b = board()
    b.wait_for("relay=on reason=surplus", 40)
    impostor = impostor_on(sim, "4.10.35")
    try:
        at = len(b.lines)
        b.wait_for("relay=off", 30, after=at)
        b.wait_for(DOWNGRADE + " R4.10.35, but this Envoy is pinned", 60, after=at)
        b.kill()
        again = board(fresh=False)  # a reboot
        again.wait_for(DOWNGRADE, 60)
        assert "relay=on" not in again.output()
        assert secrets_sent(impostor) == []
        assert {r[1] for r in impostor.requests} == {"/info"}
    finally:
        impostor.stop()
