# boot.py on the micropython binary, in a folder laid out like the board's flash: a soft reset
# keeps GPIO levels, so with a broken config.json the relay pin still goes OFF, from relay.json.
import json
import subprocess

from tools.board.hostboard import lay_out
from tools.hostutil import venv_tool


def boot(folder):
    r = subprocess.run(
        [venv_tool("micropython"), "-c", "import boot"],
        cwd=str(folder),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0 and not r.stderr, r.stderr
    return r.stdout


def test_a_broken_config_still_switches_the_relay_off(tmp_path):
    lay_out(str(tmp_path))
    (tmp_path / "config.json").write_text('{"heater": {"relay_pin": 25, "power_w": 2000,}')
    (tmp_path / "relay.json").write_text(json.dumps({"relay_pin": 25, "active_high": False}))
    out = boot(tmp_path)
    assert (
        "boot: config.json is not valid JSON (a trailing comma before '}' on line 1); "
        "relay GPIO25 set OFF as in the last good config (relay.json)\n" in out
    ), out
    assert "board: relay GPIO25 set to its OFF level (1)" in out


def test_a_broken_config_and_a_damaged_copy_give_one_clear_line(tmp_path):
    lay_out(str(tmp_path))
    (tmp_path / "config.json").write_bytes(b'{"heater": {"relay_pin": 25 "power_w": 2000}}')
    (tmp_path / "relay.json").write_bytes(b'{"relay_pin": 25, "active_high": \xff}')
    out = boot(tmp_path)
    assert out == (
        "boot: config.json is not valid JSON (expected ',' or '}' but found '\"' on line 1) and "
        "relay.json is not UTF-8: the relay pin is unknown and left as it is\n"
    ), out
