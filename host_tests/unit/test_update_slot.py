# The app's two slots and the pointer (firmware/update_slot.py), on both runtimes, in a scratch
# folder laid out like the flash: the boot rule (trial boots counted, the previous version back
# after three), the swap, health, a USB deploy, and damaged pointers.
import json
import os

from support import tmpdir

from firmware import update_slot as us


def flash(pointer=None, slots=("a", "b")):
    os.chdir(tmpdir())
    for slot in slots:
        folder = us.folder(slot)
        for part in ("app", folder, (folder + "/" if slot else "") + "firmware"):
            if part and (slot or part != "app"):
                try:
                    os.mkdir(part)
                except OSError:
                    pass
        if slot:
            for name in us.ENTRY_POINTS:
                with open(folder + "/" + name, "w") as f:
                    f.write("# %s of slot %s\n" % (name, slot))
    for name in us.ENTRY_POINTS:
        with open(name, "w") as f:
            f.write("# the root's %s\n" % name)
    if pointer is not None:
        with open(us.POINTER, "w") as f:
            f.write(pointer if type(pointer) is str else json.dumps(pointer))


def pointer():
    with open(us.POINTER) as f:
        return json.load(f)


def text(name):
    with open(name) as f:
        return f.read()


TRIAL = {
    "active": "b",
    "previous": "a",
    "version": "1.2.0",
    "previous_version": "1.1.0",
    "trial": 0,
    "failed": ["0.9"],
}


def test_no_pointer_runs_what_boot_py_loaded():
    flash(None, ("",))
    assert us.at_boot("") == ""
    assert us.read() == (None, None)


def test_a_trial_is_counted_and_after_three_boots_the_previous_version_comes_back():
    flash(dict(TRIAL))
    for n in (1, 2, 3):
        assert us.at_boot("a") == "b"
        assert pointer()["trial"] == n and us.trial_version() == "1.2.0"
    assert us.at_boot("a") == "a"
    p = pointer()
    assert p["active"] == "a" and p["previous"] is None and p["trial"] is None
    assert p["version"] == "1.1.0" and p["failed"] == ["0.9", "1.2.0"]
    assert "back to 1.1.0 from 1.2.0: did not prove itself healthy in 3 boots" in p["note"]
    assert (
        text("boot.py") == "# boot.py of slot a\n" and text("main.py") == "# main.py of slot a\n"
    )
    with open("lastwords.json") as f:
        assert "back to 1.1.0 from 1.2.0" in json.load(f)["lines"][-1]
    assert us.at_boot("a") == "a"  # and it stays there
    assert us.failed_versions() == ["0.9", "1.2.0"]


def test_a_healthy_version_stays():
    flash(dict(TRIAL))
    assert us.at_boot("a") == "b"
    assert us.healthy("1.3.0") is None  # not the version on trial
    line = us.healthy("1.2.0")
    assert "1.2.0 proved itself healthy" in line and "1.1.0 is kept" in line
    for _ in range(5):
        assert us.at_boot("b") == "b"
    assert pointer()["trial"] is None and pointer()["previous"] == "a"
    assert us.healthy("1.2.0") is None  # nothing on trial any more


def test_the_swap_makes_the_running_version_the_previous_one():
    flash({"active": "a", "version": "1.1.0", "failed": ["1.0.5"]})
    assert us.other("a") == "b" and us.other("b") == "a" and us.other("") == "a"
    assert us.swap("b", "1.2.0", "1.1.0", "a")
    p = pointer()
    assert p["active"] == "b" and p["previous"] == "a" and p["trial"] == 0
    assert p["version"] == "1.2.0" and p["previous_version"] == "1.1.0"
    assert p["failed"] == ["1.0.5"]
    assert us.at_boot("a") == "b"


def test_from_the_root_of_the_flash_the_root_is_the_previous_version():
    flash(None, ("", "a"))
    assert us.swap("a", "1.2.0", "1.1.0", "")
    for _ in range(3):
        assert us.at_boot("") == "a"
    assert us.at_boot("") == ""
    assert pointer()["active"] == "" and us.where("") == "the root of the flash"


def test_an_explicit_rollback_records_the_version_left():
    flash({"active": "b", "previous": "a", "version": "1.2.0", "previous_version": "1.1.0"})
    p, _ = us.read()
    assert us.roll_back(p, "asked for at the REPL", True) == "a"
    p = pointer()
    assert p["active"] == "a" and p["failed"] == ["1.2.0"] and "asked for at the REPL" in p["note"]
    p, _ = us.read()
    assert us.roll_back(p, "again", True) is None  # nothing to go back to now


def test_no_rollback_without_a_previous_app_on_flash():
    flash(dict(TRIAL, trial=3), ("b",))
    assert us.at_boot("b") == "b"  # the only app there is
    assert pointer()["active"] == "b"


def test_an_active_slot_without_an_app_falls_back():
    flash({"active": "b", "version": "1.2.0"}, ("a",))
    assert us.at_boot("a") == "a"


def test_a_usb_deploy_ends_a_trial_and_keeps_the_other_slot():
    flash(dict(TRIAL))
    assert us.deployed("a", "1.3.0")
    p = pointer()
    assert p["active"] == "a" and p["previous"] == "b" and p["previous_version"] == "1.2.0"
    assert p["trial"] is None and p["version"] == "1.3.0"
    flash({"active": "a", "version": "1.1.0", "failed": ["1.3.0", "1.2.0"]}, ("a",))
    assert us.deployed("a", "1.3.0")
    p = pointer()
    assert p["previous"] is None and p["failed"] == ["1.2.0"]  # deployed by hand: not failed


def test_failed_versions_are_bounded():
    flash(dict(TRIAL, trial=3, failed=["0.%d" % i for i in range(8)]))
    assert us.at_boot("a") == "a"
    failed = pointer()["failed"]
    assert len(failed) == us.FAILED_KEPT and failed[-1] == "1.2.0" and "0.0" not in failed


def test_damaged_pointers_are_named_and_the_loaded_app_runs():
    cases = (
        "{not json",
        "[1, 2]",
        '{"active": "c"}',
        '{"active": "../x"}',
        '{"active": "a", "previous": "a"}',
        '{"active": "a", "previous": "z"}',
        '{"active": "a", "previous": "b", "trial": -1}',
        '{"active": "a", "previous": "b", "trial": "1"}',
        '{"active": "a", "trial": 0}',
        '{"active": "a", "version": 5}',
        '{"active": "a", "failed": "1.0"}',
        '{"active": "a", "failed": [1]}',
        '{"active": "a", "note": ' + json.dumps("x" * 300) + "}",
        '{"active": "a", "version": "' + "9" * 40 + '"}',
        "{" + " " * 2000 + "}",
    )
    for case in cases:
        flash(case)
        p, why = us.read()
        assert p is None and why, case
        assert us.at_boot("b") == "b", case
        assert us.trial_version() is None and us.failed_versions() == []
    flash(None)
    with open(us.POINTER, "wb") as f:
        f.write(b'{"active": "\xff"}')
    assert us.read() == (None, "not UTF-8")


def test_an_install_over_the_previous_version_first_drops_it_from_the_pointer():
    done = dict(TRIAL, trial=None)
    flash(done)
    assert us.overwriting("b") is True and pointer() == done  # not the way back: unchanged
    assert us.overwriting("a") is True
    p = pointer()
    assert (p["active"], p["version"], p["previous"], p["previous_version"]) == (
        "b",
        "1.2.0",
        None,
        None,
    )
    assert p["failed"] == ["0.9"] and us.read()[1] is None
    assert us.at_boot("b") == "b"
    flash(TRIAL)  # a trial's way back is never written over
    assert us.overwriting("a") is False and pointer() == TRIAL
    flash(None)
    assert us.overwriting("a") is True and us.read() == (None, None)
