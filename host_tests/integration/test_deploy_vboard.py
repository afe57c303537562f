# tools.deploy into a virtual board (the micropython REPL behind a pseudo-terminal, driven by real
# mpremote), then the deployed tree boots against the simulator; and the REPL helpers, typed at
# that REPL as a user would. Nothing is mocked between the deploy tool and the board.
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, token_for

from tools.board import mpy
from tools.board.hostboard import HostBoard
from tools.board.vboard import VirtualBoard
from tools.deploy import commands

SIM_SPEED = 10


def deploy(*args, cwd):
    r = subprocess.run(
        [sys.executable, "-m", "tools.deploy", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    return r.returncode, r.stdout + r.stderr


@pytest.fixture
def vboard(tmp_path, sim):
    folder = tmp_path / "flash"
    folder.mkdir()
    simdir = tmp_path / "simdir"
    simdir.mkdir()
    sim.relay_file = str(simdir / "relay")
    env = dict(os.environ, DIVERTER_SIM=sim.clock.env(str(simdir)))
    vb = VirtualBoard(str(folder), env)
    vb.simdir = str(simdir)
    yield vb
    vb.close()


def test_dry_run_lists_and_touches_nothing(sim, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(sim.config()))
    code, out = deploy(
        "--port", "/dev/nonexistent", "--config", str(cfg), "--dry-run", cwd=tmp_path
    )
    assert code == 0, out
    assert "would copy build/deploy/app/a/firmware/app.mpy -> :app/a/firmware/app.mpy" in out
    assert (
        "would copy firmware/certs/isrg_root_x1.der -> :app/a/firmware/certs/isrg_root_x1.der"
        in out
    )
    assert "would copy build/deploy/app/a/boot.py -> :boot.py" in out
    assert "would copy build/deploy/app/a/boot.py -> :app/a/boot.py" in out
    assert "write app.json naming slot a" in out
    assert "-> :config.json" in out and "would soft-reset the board" in out


def test_dry_run_without_a_port_means_the_first_board_found(sim, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(sim.config()))
    code, out = deploy("--config", str(cfg), "--dry-run", cwd=tmp_path)
    assert code == 0, out
    assert "to the first board found (auto)" in out and "would copy" in out
    assert commands("auto", {}, "c.json")[1:3] == ["connect", "auto"]  # mpremote's own word


def test_a_bad_config_stops_the_deploy(sim, tmp_path):
    bad = sim.config()
    bad["heater"]["relay_pin"] = 9
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(bad))
    code, out = deploy("--port", "/dev/nonexistent", "--config", str(cfg), cwd=tmp_path)
    assert code == 2
    assert (
        "heater.relay_pin: GPIO 9 is wired to the flash chip" in out
        and "nothing was copied" in out
    )


def test_the_example_config_unedited_is_not_deployed(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(open(os.path.join(ROOT, "config.example.json")).read())
    code, out = deploy("--config", str(cfg), "--dry-run", cwd=tmp_path)
    assert code == 2, out
    assert "config: wifi.ssid: 'MyHomeWiFi' is the example's; put your Wi-Fi network's name" in out
    assert "config: enlighten.password: 'enlighten-password' is the example's" in out
    assert "config: 4 problem(s)" in out and "nothing was copied" in out
    assert "would copy" not in out


def test_deploy_into_a_virtual_board_then_boot_it(sim, vboard, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(sim.config()))
    flash = tmp_path / "flash"
    app = flash / "app" / "a" / "firmware"
    app.mkdir(parents=True)
    (app / "app.py").write_text("raise RuntimeError('a stale source')")
    code, out = deploy("--port", vboard.path, "--config", str(cfg), "--no-reset", cwd=tmp_path)
    assert code == 0, out
    assert "unchanged" in out and "0 unchanged" in out
    assert (app / "app.mpy").exists() and (app / "http.mpy").exists()
    assert not (app / "app.py").exists(), "a .py would shadow the new .mpy"
    assert (flash / "boot.py").exists() and (flash / "main.py").exists()
    assert (flash / "app" / "a" / "boot.py").read_bytes() == (flash / "boot.py").read_bytes()
    assert len(list((app / "certs").glob("*.der"))) >= 5
    assert json.loads((flash / "config.json").read_text()) == json.loads(cfg.read_text())
    p = json.loads((flash / "app.json").read_text())
    assert (p["active"], p["trial"], p["version"]) == ("a", None, mpy.VERSION)

    code, out = deploy("--port", vboard.path, "--config", str(cfg), "--no-reset", cwd=tmp_path)
    assert code == 0 and " 0 copied" in out, out  # incremental: nothing changed
    vboard.close()

    sim.envoy.live = sim.steady(3000, -2600)
    board = HostBoard(str(flash), sim.clock.env(vboard.simdir))
    try:
        board.wait_for("relay=on reason=surplus", 40)
    finally:
        board.kill()


def test_repl_status_and_manual_override(sim, vboard, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(sim.config()))
    code, out = deploy("--port", vboard.path, "--config", str(cfg), "--no-reset", cwd=tmp_path)
    assert code == 0, out
    sim.envoy.live = sim.steady(0, 400)  # no sun: automatic control keeps the relay off
    # A token on flash already: a login would restart the board (into a fresh heap), and a
    # restart ends this REPL session.
    with open(os.path.join(vboard.folder, "token.json"), "w") as f:
        json.dump({"token": token_for(sim.envoy, sim)}, f)
    vboard.type("import boot\rimport main\r")
    at = vboard.wait_for("relay OFF", 20)
    at = vboard.wait_for("summary", 30, at)
    vboard.type("\x03")  # Ctrl-C at the serial console
    at = vboard.wait_for("stopped: relay OFF", 10, at)
    at = vboard.wait_for(">>> ", 10, at)
    vboard.type("from firmware import diag\rdiag.status()\r")
    at = vboard.wait_for("token: owner, ", 10, at)
    status = vboard.output[at - 2000 :].decode(errors="replace")
    vboard.type("diag.force_on(2)\r")
    at = vboard.wait_for("relay=on reason=manual-on", 10, at)
    vboard.type("\x03")
    at = vboard.wait_for(">>> ", 10, at)
    vboard.type("diag.auto()\r")
    at = vboard.wait_for("manual: back to automatic", 10, at)
    at = vboard.wait_for("summary net_w=400 relay=off reason=low-export", 30, at)
    vboard.type("\x03")
    vboard.wait_for(">>> ", 10, at)
    out = vboard.output.decode(errors="replace")
    assert "relay=off reason=low-export" in out or "relay=off" in out
    for secret in [sim.cloud.password, *sim.cloud.issued, *sim.cloud.sessions]:
        assert secret not in out
    assert "envoy: 127.0.0.1" in status and "pinned certificate sha256=" in status


def test_a_board_deployed_by_1_1_boots_this_version_after_a_deploy(sim, vboard, tmp_path):
    # Version 1.1 left the app at the root of the flash (firmware/, boot.py and main.py without
    # slots). A deploy of this version puts it in slot a, names it in app.json and removes the
    # old copy; the board then boots this version, and the old token, pin and counters stay.
    from tools.board.hostboard import lay_out

    flash = tmp_path / "flash"
    lay_out(str(flash), sim.config(), compiled=True, slot=None)
    (flash / "boot.py").write_text(OLD_BOOT)
    (flash / "main.py").write_text("from firmware import app\n\napp.run()\n")
    (flash / "token.json").write_text('{"token": "kept"}')
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(sim.config()))
    code, out = deploy("--port", vboard.path, "--config", str(cfg), "--no-reset", cwd=tmp_path)
    assert code == 0, out
    assert not (flash / "firmware").exists(), "version 1.1's copy of the app stays behind"
    assert (flash / "app" / "a" / "firmware" / "app.mpy").exists()
    assert json.loads((flash / "app.json").read_text())["active"] == "a"
    assert (flash / "token.json").read_text() == '{"token": "kept"}'
    vboard.close()
    (flash / "token.json").unlink()  # not a real token: a login makes one
    sim.envoy.live = sim.steady(3000, -2600)
    board = HostBoard(str(flash), sim.clock.env(vboard.simdir))
    try:
        board.wait_for("diverter %s" % mpy.VERSION, 30)
        board.wait_for("relay=on reason=surplus", 40)
        assert "boot: " not in board.output()  # nothing to say about slots
    finally:
        board.kill()


# boot.py as version 1.1 shipped it.
OLD_BOOT = """try:
    from firmware.board import relay_off_at_boot

    relay_off_at_boot()
except Exception as e:
    print("boot: could not claim the relay pin:", repr(e))
"""
