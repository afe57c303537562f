# boot.py on the micropython binary with app.json damaged in every way a flash or a hand can
# damage it: the relay pin goes OFF first, the damage is named in one line, and the app that is
# on flash is the one imported (its slot first on sys.path).
import json
import subprocess

import pytest

from tools.board.hostboard import lay_out
from tools.hostutil import venv_tool

CONFIG = {"heater": {"relay_pin": 25, "power_w": 2000, "active_high": False}}
RELAY_OFF = "board: relay GPIO25 set to its OFF level (1)"


def boot(folder):
    r = subprocess.run(
        [venv_tool("micropython"), "-c", "import boot\nimport firmware\nprint(firmware.__file__)"],
        cwd=str(folder),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0 and not r.stderr, r.stderr
    return r.stdout.splitlines()


@pytest.mark.parametrize(
    "pointer,says",
    [
        (b"\xff\xfe\x00garbage", "boot: app.json is damaged ("),
        (b"[1, 2]", "boot: app.json is damaged ("),
        (b'{"active": "a"', "boot: app.json is damaged ("),
        (json.dumps({"active": "../../x"}).encode(), "its active slot is not a, b or the root"),
        (json.dumps({"active": 7}).encode(), "its active slot is not a, b or the root"),
        (
            json.dumps({"active": "a", "previous": "b", "trial": "x"}).encode(),
            "its trial count is not 0 to 99",
        ),
        (json.dumps({"active": "a", "trial": 1}).encode(), "a trial without a previous version"),
        (json.dumps({"active": "a", "version": "x" * 5000}).encode(), "boot: app.json is"),
        (json.dumps({"active": "b"}).encode(), "names slot b, which holds no app; running slot a"),
    ],
)
def test_a_damaged_pointer_is_named_after_the_relay_is_off_and_the_app_on_flash_runs(
    tmp_path, pointer, says
):
    lay_out(str(tmp_path), CONFIG)
    (tmp_path / "app.json").write_bytes(pointer)
    out = boot(tmp_path)
    assert out[0] == RELAY_OFF, out
    assert len(out) == 3 and says in out[1], out
    assert out[2].endswith("app/a/firmware/__init__.py"), out
    assert (tmp_path / "app.json").read_bytes() == pointer  # boot.py writes nothing over it


def test_a_good_pointer_boots_its_slot_silently(tmp_path):
    lay_out(str(tmp_path), CONFIG)
    out = boot(tmp_path)
    assert out[0] == RELAY_OFF and len(out) == 2, out
    assert out[1].endswith("app/a/firmware/__init__.py"), out
