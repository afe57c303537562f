# update.json (firmware/update_boot.py's record of looks and wishes) is untrusted like every
# file on flash, and when a look is due follows from it and the clock: on both runtimes.
import os

from support import tmpdir

from firmware import update_boot as ub

DAY = 86400
NOW = 1767225600  # 2026-01-01, a set clock
U = {"check_h": 24}


def test_a_damaged_or_odd_record_falls_back_to_nothing_known():
    os.chdir(tmpdir())
    cases = (
        b"\xff\xfe",
        b"[1]",
        b'{"checked": "yesterday", "tries": -1.5, "want": 5, "offer": {"version": 1}}',
        b'{"offer": {"version": "1.2.0"}}',
        b'{"offer": "1.2.0", "said": ["x"]}',
    )
    for data in cases:
        with open(ub.FILE, "wb") as f:
            f.write(data)
        rec = ub.record()
        assert rec["offer"] is None and rec["want"] is None and rec["said"] is None, data
        assert type(rec["checked"]) is int and type(rec["tries"]) is int, data
    with open(ub.FILE, "w") as f:
        f.write(
            '{"checked": 5, "want": "latest", "offer": {"version": "1.2.0", "notes": "",'
            ' "summary": ""}}'
        )
    rec = ub.record()
    assert rec["checked"] == 5 and rec["want"] == "latest" and rec["offer"]["version"] == "1.2.0"


def test_a_look_is_due_check_h_after_the_last_and_never_without_the_time():
    assert ub._due({"checked": 0}, NOW, U)
    assert not ub._due({"checked": NOW - 3600}, NOW, U)
    assert ub._due({"checked": NOW - DAY}, NOW, U)
    assert ub._due({"checked": NOW + 3600}, NOW, U)  # a record from the future: look again
    assert not ub._due({"checked": 0}, 946684800 + 50, U)  # the clock is not set
    assert ub._wait({"checked": NOW - 3600}, NOW, U) == DAY - 3600
    assert ub._wait({"checked": NOW - 2 * DAY}, NOW, U) == 3600  # it could not happen: an hour
    assert ub._wait({"checked": 0}, 946684800 + 50, U) == DAY  # no time: not hourly restarts
