# Power cuts during an update: kill -9 at random moments (seeded) of the look, the download and
# the swap, then power back on: the board always boots a whole version, the old one or the new,
# never neither. And every state the install passes through, made by hand from a real install,
# boots: a slot half written, the new boot.py beside the old pointer, the new pointer written
# but not renamed, the new pointer beside the old boot.py.
import json
import os
import random
import re
import shutil
import time

from test_update_e2e import pointer, rel, upboard  # noqa: F401 (fixtures)

SIM_SPEED = 10
RUNS = int(os.environ.get("UPDATE_POWER_CUTS", "16"))
SEED = int(os.environ.get("UPDATE_POWER_CUTS_SEED", "21"))
NEW_BOOT = ("boot.py", "import sys\n", "import sys  # the new release's boot.py\n")


def boots_a_whole_version(b):
    """The board comes up on 1.1.0 or 1.1.1 and reaches the Envoy."""
    b.wait_for("envoy: net power from", 60)
    out = b.output()
    versions = set(re.findall(r"diverter (1\.1\.[01]): heater", out))
    assert versions, out[-3000:]
    assert "fatal" not in out and "Traceback" not in out, out[-3000:]
    p = pointer(b)
    assert p["active"] in ("a", "b") and (b.dir / "app" / p["active"] / "firmware").is_dir()
    return p


def test_power_cuts_at_random_moments_of_an_update_always_leave_a_bootable_board(
    sim,
    rel,  # noqa: F811
    upboard,  # noqa: F811
    tmp_path,
):
    rel.publish("1.1.1", NEW_BOOT)
    sim.envoy.live = sim.steady(3000, -2600)
    # A first, uninterrupted run: how long the look and the download take on this machine.
    b = upboard()
    start = time.time()
    b.wait_for("update: writing 1.1.1", 60)
    look = time.time() - start
    b.wait_for("update: 1.1.1 installed in slot b", 60)
    write = time.time() - start - look
    b.kill()
    rnd = random.Random(SEED)
    outcomes = []
    for run in range(RUNS):
        (b.dir / "update.json").unlink(missing_ok=True)
        b = upboard()  # a fresh board on 1.1.0 with the release due
        if run % 2:  # during the download and the swap
            b.wait_for("update: writing 1.1.1", 60)
            time.sleep(rnd.uniform(0, write * 1.2))
        else:  # during the boot and the look
            time.sleep(rnd.uniform(0.05, look))
        b.kill()  # the power cut
        b = upboard(fresh=False)
        boots_a_whole_version(b)
        # The version the board came up on: the old one when the cut came before the swap
        # (which then installs again), the new one after.
        outcomes.append(re.search(r"diverter (1\.1\.[01]): heater", b.output()).group(1))
        b.kill()
    print("power cuts: the version each restart came up on:", outcomes)
    assert len(outcomes) == RUNS


def test_every_state_of_the_install_boots(sim, rel, upboard, tmp_path):  # noqa: F811
    rel.publish("1.1.1", NEW_BOOT)
    sim.envoy.live = sim.steady(3000, -2600)
    b = upboard(rel.update(auto=False))
    b.wait_for("update: 1.1.1 is available", 30)
    b.kill()
    old = tmp_path / "old"
    shutil.copytree(b.dir, old)
    (b.dir / "update.json").unlink(missing_ok=True)  # a look is due again: this time it installs
    b = upboard(rel.update(auto=True))
    b.wait_for("boot: 1.1.1 on trial, boot 1 of 3", 60)
    b.kill()
    new = tmp_path / "new"
    shutil.copytree(b.dir, new)
    assert (new / "boot.py").read_text() != (old / "boot.py").read_text()
    new_pointer = json.loads((new / "app.json").read_text())
    new_pointer["trial"] = 0

    def state(name, *steps):
        shutil.rmtree(b.dir)
        shutil.copytree(old, b.dir)
        for step in steps:
            step()
        board = upboard(fresh=False)
        p = boots_a_whole_version(board)
        board.kill()
        return p["version"], board.output()

    def half_slot():
        shutil.copytree(new / "app" / "b", b.dir / "app" / "b")
        files = sorted((b.dir / "app" / "b" / "firmware").glob("*.mpy"))
        for f in files[len(files) // 2 :]:
            f.unlink()
        files[len(files) // 2 - 1].write_bytes(b"\x4d\x06")  # one cut mid-write

    def whole_slot():
        shutil.copytree(new / "app" / "b", b.dir / "app" / "b")

    def new_boot_py():
        shutil.copy(new / "boot.py", b.dir / "boot.py")

    def pointer_tmp():
        (b.dir / "app.json.tmp").write_text(json.dumps(new_pointer))

    def pointer_renamed():
        (b.dir / "app.json").write_text(json.dumps(new_pointer))

    assert state("slot b half written", half_slot)[0] == "1.1.0"
    assert state("slot b written", whole_slot)[0] == "1.1.0"
    assert state("new boot.py", whole_slot, new_boot_py)[0] == "1.1.0"
    assert state("pointer not renamed", whole_slot, new_boot_py, pointer_tmp)[0] == "1.1.0"
    version, out = state("swapped", whole_slot, new_boot_py, pointer_renamed)
    assert version == "1.1.1" and "boot: 1.1.1 on trial, boot 1 of 3" in out
    version, out = state("swapped, the old boot.py", whole_slot, pointer_renamed)
    assert version == "1.1.1" and "boot: 1.1.1 on trial, boot 1 of 3" in out
