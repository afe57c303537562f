# Damaged files on the board's flash, with the real firmware (main.py under micropython on the
# simulated board): each is ignored with one line and the diverter runs; a broken config.json
# still gets the relay pin driven OFF at boot.
import json

SIM_SPEED = 10


def test_a_non_utf8_byte_in_each_file_is_ignored_and_the_diverter_runs(sim, board):
    sim.envoy.live = sim.steady(3000, -2600)
    b = board()
    b.wait_for("relay=on reason=surplus", 30)
    b.stop()
    names = ("token.json", "cloud.json", "envoy_pin.json", "state.json")
    for name in names:
        path = b.dir / name
        assert path.exists(), name
        path.write_bytes(path.read_bytes()[:-2] + b"\xff}")
    again = board(fresh=False)
    for name in names:
        again.wait_for("store: %s is damaged (not UTF-8); ignoring it" % name, 20)
    again.wait_for("relay=on reason=surplus", 40)  # before: "fatal: UnicodeError", forever
    assert "fatal" not in again.output()
    again.stop()


def test_a_broken_config_json_leaves_the_relay_pin_off(sim, board):
    cfg = sim.config(heater={"relay_pin": 25, "active_high": False})
    b = board(cfg)
    b.wait_for(" W on GPIO", 20)  # the boot line: "diverter <version>: heater ..."
    b.stop()
    assert json.loads((b.dir / "relay.json").read_text()) == {
        "relay_pin": 25,
        "active_high": False,
    }
    text = json.dumps(cfg, indent=1).replace('"dst": "none"', '"dst": "none",', 1)
    (b.dir / "config.json").write_text(text)  # a trailing comma: a syntax error
    line = text[: text.index('"dst": "none",')].count("\n") + 1
    again = board(fresh=False)
    again.proc.wait(20)
    out = again.output()
    assert (
        "boot: config.json is not valid JSON (a trailing comma before '}' on line %d); relay "
        "GPIO25 set OFF as in the last good config (relay.json)" % line in out
    ), out
    assert "board: relay GPIO25 set to its OFF level (1)" in out
    assert (
        "config: config.json: not valid JSON (a trailing comma before '}' on line %d)" % line
        in out
    )
    assert again.proc.returncode == 0 and "fatal" not in out
