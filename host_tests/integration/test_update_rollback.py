# Rollback by itself, end to end: releases that install fine and then fail (at import, without
# ever a reading, on a config.json they refuse) are rolled back by boot.py after three trial
# boots; the console, the last words and app.json say why, and the version is never installed
# again. Then the owner's own rollback, diag.rollback(), at the REPL. The simulated clock runs
# 60x: a trial's ten minutes take ten seconds.
import json
import os
import time

from test_update_e2e import (  # noqa: F401 (fixtures)
    LOGIN_RESTART,
    own_resets,
    pointer,
    record,
    rel,
    upboard,
)

SIM_SPEED = 60
BROKEN_IMPORT = ("firmware/app.py", "import gc\n", "import gc\n\nraise RuntimeError('broken')\n")
NO_READING = (
    "firmware/link.py",
    "            net, stamp = e.read()",
    "            raise OSError(110, 'this release never reads')",
)


def rolled_back(sim, b, version="1.1.1"):
    """The previous version is back, heats, and says why; the version is failed for good."""
    b.wait_for(
        "boot: update: back to 1.1.0 from %s: did not prove itself healthy in 3 boots" % version,
        120,
    )
    b.wait_for("diverter 1.1.0", 30)
    b.wait_for("lastwords: ", 10)
    b.wait_for("relay=on reason=surplus", 60)
    p = pointer(b)
    assert p["active"] == "a" and p["trial"] is None and p["failed"] == [version]
    assert "not installed again" in p["note"]
    words = json.loads((b.dir / "lastwords.prev.json").read_text())
    assert "back to 1.1.0 from %s" % version in words["lines"][-1]
    assert (b.dir / "boot.py").read_bytes() == (b.dir / "app" / "a" / "boot.py").read_bytes()
    for n in (1, 2, 3):
        assert b.count("boot: %s on trial, boot %d of 3" % (version, n)) == 1


def test_a_release_that_crashes_at_import_is_rolled_back(sim, rel, upboard):  # noqa: F811
    rel.publish("1.1.1", BROKEN_IMPORT)
    sim.envoy.live = sim.steady(3000, -2600)
    b = upboard()
    b.wait_for("update: 1.1.1 installed in slot b", 30)
    b.wait_for("fatal: the app does not import (RuntimeError('broken',)); relay OFF", 30)
    rolled_back(sim, b)
    assert b.count("relay=on") == b.count("relay=on reason=surplus") >= 1
    assert b.find("relay=on") > b.find("boot: update: back to 1.1.0")  # OFF until then
    # The same release is looked at again later: refused, never installed twice.
    b.kill()
    (b.dir / "update.json").unlink()
    again = upboard(fresh=False)
    again.wait_for("update: nothing to install: 1.1.1 failed its trial on this board before", 30)
    again.wait_for("relay=on", 60)
    assert pointer(again)["active"] == "a" and again.resets == 1  # after the look


def test_a_release_that_never_gets_a_reading_is_rolled_back(sim, rel, upboard):  # noqa: F811
    rel.publish("1.1.1", NO_READING)
    sim.envoy.live = sim.steady(3000, -2600)
    b = upboard()
    b.wait_for("update: 1.1.1 installed in slot b", 30)
    b.wait_for("diverter 1.1.1", 30)
    b.wait_for(
        "update: 1.1.1 has not proven itself healthy in 10 min (no fresh Envoy reading for a "
        "minute); restarting",
        60,
    )
    rolled_back(sim, b)
    assert b.count("relay=on") == b.count("relay=on reason=surplus")


def test_a_release_that_refuses_the_config_is_rolled_back(sim, rel, upboard):  # noqa: F811
    # The new version no longer knows control.poll_s, which this config.json has (and it
    # pauses 1 s, not 30, after a crash: only to keep the test short).
    rel.publish(
        "1.1.1",
        ("firmware/config.py", '        "poll_s": ("num", 1, 0.2, 60),\n', ""),
        ("firmware/config.py", 'c["poll_s"]', "1"),
        ("firmware/config.py", 'type(c.get("poll_s")) in (int, float)', "False"),
        ("firmware/diverter.py", 'self.poll_s = c["poll_s"]', "self.poll_s = 1"),
        ("firmware/app.py", "CRASH_PAUSE_S = 30", "CRASH_PAUSE_S = 1"),
    )
    sim.envoy.live = sim.steady(3000, -2600)
    b = upboard()
    b.wait_for("update: 1.1.1 installed in slot b", 30)
    b.wait_for("config: control.poll_s: unknown key (a typo?)", 30)
    b.wait_for("config.json does not suit 1.1.1, which is on trial", 30)
    rolled_back(sim, b)


def test_a_healthy_trial_is_not_rolled_back_by_later_restarts(sim, rel, upboard):  # noqa: F811
    rel.publish("1.1.1")
    sim.envoy.live = sim.steady(3000, -2600)
    b = upboard()
    b.wait_for("update: 1.1.1 proved itself healthy and stays", 60)
    for _ in range(4):
        b.kill()
        b = upboard(fresh=False)
        b.wait_for("diverter 1.1.1", 30)
    assert pointer(b)["active"] == "b" and not b.find("on trial")
    assert record(b)["offer"]["version"] == "1.1.1"


def test_diag_update_and_diag_rollback_at_the_repl(sim, rel, tmp_path):  # noqa: F811
    # The REPL as a user types at it (the virtual board), a board reset in between (the REPL
    # process ends with the reset; a HostBoard is the next boot).
    from tools.board.hostboard import HostBoard, lay_out
    from tools.board.vboard import VirtualBoard

    rel.publish("1.1.1")
    sim.envoy.live = sim.steady(0, 400)
    flash, simdir = tmp_path / "flash", tmp_path / "simdir"
    simdir.mkdir()
    sim.relay_file = str(simdir / "relay")
    lay_out(str(flash), sim.config(update=rel.update(auto=False)), slot="a", tree=rel.old)
    env = dict(os.environ, DIVERTER_SIM=sim.clock.env(str(simdir)))

    def repl(*typed):
        vb = VirtualBoard(str(flash), env)
        try:
            vb.type("import boot\rimport main\r")
            at = vb.wait_for("summary", 30)
            vb.type("\x03")
            at = vb.wait_for(">>> ", 10, at)
            for text, answer in typed:
                vb.type(text + "\r")
                at = vb.wait_for(answer, 20, at)
            return vb.output.decode(errors="replace")
        finally:
            vb.close()

    def boot(until):
        b = HostBoard(str(flash), sim.clock.env(str(simdir)))
        try:
            b.wait_for(until, 60)
        finally:
            b.kill()
        return b

    # The first boot looks and restarts; the next logs in to the cloud and restarts too.
    b = boot(LOGIN_RESTART)
    looked = b.find("update: restarting after the look")
    assert looked is not None and looked < b.find(LOGIN_RESTART), b.output()
    out = repl(
        ("from firmware import diag", ">>> "),
        ("diag.status()", "update: available: 1.1.1; notes: https://example.com/notes/1.1.1"),
        ("diag.update()", "update: diag.update() asked for the latest release; restarting"),
    )
    assert "update: installed 1.1.0 in slot a" in out
    b = boot("update: 1.1.1 proved itself healthy and stays")
    assert "update: 1.1.1 installed in slot b" in b.output()
    out = repl(
        ("from firmware import diag", ">>> "),
        ("diag.rollback()", "update: restarting into the previous version"),
    )
    assert "update: back to 1.1.0 from 1.1.1: asked for at the REPL (diag.rollback())" in out
    boot("diverter 1.1.0")
    p = json.loads((flash / "app.json").read_text())
    assert p["active"] == "a" and p["failed"] == ["1.1.1"] and p["previous"] is None
    out = repl(("from firmware import diag", ">>> "), ("diag.rollback()", "no previous version"))


def test_a_look_falling_due_restarts_the_board_while_the_heater_is_off(sim, rel, upboard):  # noqa: F811
    rel.publish("1.1.0")  # nothing newer: each look says so
    sim.envoy.live = sim.steady(3000, -2600)  # the heater on: no restart for a look
    b = upboard(rel.update(check_h=1))
    b.wait_for("update: 1.1.0 is the latest", 30)
    b.wait_for("relay=on reason=surplus", 30)
    start = sim.clock.now()
    while sim.clock.now() < start + 3900:  # an hour and five minutes, the heater on all along
        time.sleep(0.5)
    assert own_resets(b) == 1 and not b.find(
        "look for a new release is due"
    )  # after the first look
    sim.envoy.live = sim.steady(0, 400)  # the sun goes: the heater goes off
    b.wait_for(
        "update: a look for a new release is due (every 1 h); restarting while the heater is "
        "off, so that it runs at boot",
        120,
    )
    due = b.find("update: a look for a new release is due")
    b.wait_for("board: reset", 10, due)
    line = b.wait_for("update: 1.1.0 is the latest", 30, due)
    b.wait_for("update: restarting after the look, in a fresh heap", 30, due)
    b.wait_for("envoy: net power from", 30, due)
    assert b.count("update: looking at") == 2 and own_resets(b) == 3, line
