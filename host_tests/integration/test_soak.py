# The short soak (the full 24 hours is `make soak`): three simulated hours of the real firmware
# from 08:00 of the demo's real day, under the heap the fault suite uses, with a token renewal
# at 08:30 (before the sun: renewals wait while the heater runs). Nothing may fail and the heap
# in use may not grow from hour to hour.
from tools.bench import soak
from tools.sim import faults


def test_three_hours_without_a_leak(tmp_path):
    res = soak.soak(3, faults.HEAP, 720, str(tmp_path / "soak"), start_hour=8, renew_after_h=0.5)
    assert soak.verdict(res) == [], res
    assert res["handshakes"] <= 4, "keep-alive: a handshake per login, not per poll"
    assert res["polls"] > 2000


def test_the_measuring_runs_fail_on_every_way_memory_runs_out():
    from firmware import mqtt

    for line in (
        "08:00:00 error: out of memory; relay=off reason=internal-error, retrying",
        "MemoryError: memory allocation failed, allocating 296 bytes",
        "08:00:02 mqtt: 127.0.0.1:1883: memory allocation failed, allocating 72 bytes; ...",
        "08:00:02 " + mqtt._NO_ROOM,  # MQTT backs off quietly: the run must still fail
    ):
        assert soak.FAILED.search(line), line
    assert not soak.FAILED.search("08:00:02 mqtt: connected to 127.0.0.1:1883 as diverter_x")
