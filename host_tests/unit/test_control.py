# control.py on scripted sequences (runs under CPython and MicroPython).
from support import contains

from firmware import control as C

PARAMS = {
    "start_margin_w": 100,
    "max_import_w": 200,
    "start_delay_s": 30,
    "stop_delay_s": 60,
    "min_on_s": 300,
    "min_off_s": 300,
    "stale_s": 30,
}
HEATER = 2000


def run(ctl, script, relay=False, t0=0):
    """script: [(seconds, net_w)] readings one second apart from t0; returns the switch times
    and the last reason. The relay follows the decisions, as the app makes it."""
    t = t0
    switches = []
    reason = None
    for seconds, net in script:
        for _ in range(seconds):
            on, reason = ctl.decide(t, net, 0, relay, HEATER)
            if on != relay:
                relay = on
                ctl.switched(t)
                switches.append((t, on))
            t += 1
    return switches, reason, relay


def test_no_start_before_min_off_after_boot():
    ctl = C.Control(PARAMS, 0)
    switches, reason, _ = run(ctl, [(200, -2500)])
    assert switches == [] and reason == C.MIN_OFF
    switches, _, _ = run(ctl, [(101, -2500)], t0=200)
    assert switches == [(300, True)]


def test_start_needs_export_above_heater_plus_margin_for_the_delay():
    ctl = C.Control(PARAMS, -1000)  # booted long ago
    switches, reason, _ = run(ctl, [(100, -2099)])
    assert switches == [] and reason == C.LOW_EXPORT
    switches, reason, _ = run(ctl, [(30, -2100)], t0=100)
    assert switches == [] and reason == C.WAIT_START  # held 29 s at t=129
    switches, _, _ = run(ctl, [(1, -2100)], t0=130)
    assert switches == [(130, True)]  # held 30 s


def test_a_dip_restarts_the_start_delay():
    ctl = C.Control(PARAMS, -1000)
    switches, _, _ = run(ctl, [(20, -2500), (1, -1000), (31, -2500)])
    assert switches == [(51, True)]  # held from t=21


def test_stop_on_import_held_for_the_delay_after_min_on():
    ctl = C.Control(PARAMS, -1000)
    ctl.switched(0)  # switched on at 0
    switches, reason, _ = run(ctl, [(100, 150)], relay=True)
    assert switches == [] and reason == C.DIVERTING  # 150 W import is within max_import_w
    switches, reason, _ = run(ctl, [(59, 500)], relay=True, t0=100)
    assert switches == [] and reason == C.WAIT_STOP
    switches, reason, _ = run(ctl, [(59, 500), (200, 500)], relay=True, t0=100)
    assert switches == [(300, False)], switches  # min_on_s from the switch at 0


def test_stop_right_after_the_delay_when_min_on_has_passed():
    ctl = C.Control(PARAMS, -1000)
    ctl.switched(-1000)
    switches, reason, _ = run(ctl, [(61, 201)], relay=True)
    assert switches == [(60, False)] and reason == C.IMPORT


def test_stale_data_turns_off_at_once_despite_min_on():
    ctl = C.Control(PARAMS, -1000)
    ctl.switched(0)
    on, reason = ctl.decide(10, -3000, 31, True, HEATER)
    assert (on, reason) == (False, C.STALE)
    on, reason = ctl.decide(10, None, None, True, HEATER)
    assert (on, reason) == (False, C.NO_DATA)
    on, reason = ctl.decide(10, -3000, 30, True, HEATER)
    assert on and reason == C.DIVERTING  # 30 s old is still fresh enough


def test_zero_delays_switch_immediately():
    p = dict(PARAMS)
    for k in ("start_delay_s", "stop_delay_s", "min_on_s", "min_off_s"):
        p[k] = 0
    ctl = C.Control(p, 0)
    switches, _, _ = run(ctl, [(1, -2200), (1, 300), (1, -2200)])
    assert switches == [(0, True), (1, False), (2, True)]


def test_describe_gives_the_numbers():
    ctl = C.Control(PARAMS, -1000)
    run(ctl, [(12, -2150)])
    contains(
        ctl.describe(C.WAIT_START, 11, -2150, 0, HEATER), "export_w=2150 need_w=2100 held_s=11/30"
    )
    contains(ctl.describe(C.STALE, 11, None, 42, HEATER), "age_s=42")
    ctl.switched(0)
    contains(ctl.describe(C.MIN_ON, 100, 400, 0, HEATER), "left_s=200")
