# The fault suite: the real firmware under `micropython -X heapsize=...` against the simulator,
# one fault at a time (scenarios in tools/sim/faults.py). Each must switch the relay OFF within
# stale_s plus one poll where the data stops, say why on the console, keep the files on flash
# valid, and recover on its own once the fault clears.
import pytest

from firmware.link import ERROR_STREAK, PIN_RETRY_S
from tools.sim import faults

HEAP = faults.HEAP
STALE_S = faults.TEST_CONTROL["stale_s"]
POLL_S = faults.TEST_CONTROL["poll_s"]
JITTER_S = 3  # console stamps are whole seconds, and the host schedules the board at 20x
# Back on within this long (simulated s) once the fault is gone: a pin problem is retried every
# PIN_RETRY_S; damaged files: from the reboot, a new login and start_delay_s.
RECOVERY_S = {
    "plain-http-impostor": PIN_RETRY_S + 30,
    "pin-not-saved": PIN_RETRY_S + 30,
    "damaged-files": 40,
    "envoy-trickle": 30,
}
# The downgrade is named once ERROR_STREAK polls have failed (back-off 2, 4, 8... s).
DOWNGRADE_NAMED_S = 2 ** (ERROR_STREAK + 2)


@pytest.mark.parametrize("scenario", faults.SCENARIOS, ids=lambda s: s.name)
def test_fault(scenario, pki_dir, tmp_path):
    res = faults.run(scenario, pki_dir, str(tmp_path), HEAP)
    if "safe_s" in res:
        assert res["safe_s"] <= STALE_S + POLL_S + JITTER_S, res
    if scenario.reason:
        assert not res["relay_on_during_fault"], "the relay came on while the fault lasted"
    assert set(scenario.kept) <= set(res["kept"]), res
    assert res["watchdog"] == 0
    if scenario.name in RECOVERY_S:
        assert res["recovery_s"] <= RECOVERY_S[scenario.name], res
    if scenario.then:
        assert res["said_s"] <= DOWNGRADE_NAMED_S, res


def test_power_cuts_during_writes(pki_dir, tmp_path):
    res = faults.power_cuts(pki_dir, str(tmp_path), cuts=8)
    assert "token" in res["kept"]
    assert res["logins"] <= 6, "%d cloud logins after %d power cuts" % (res["logins"], res["cuts"])
