# control.py on scripted sequences (runs under CPython and MicroPython).
from support import contains

from firmware import control as C

PARAMS = {  # the defaults
    "max_import_w": 300,
    "start_delay_s": 0,
    "stop_delay_s": 30,
    "min_on_s": 300,
    "min_off_s": 300,
    "stale_s": 30,
}
HEATER = 2000
START = HEATER - 300  # usable export that starts the heater
STOP = HEATER - 600  # its averages under which a run ends, or does not start


def params(**changes):
    p = dict(PARAMS)
    p.update(changes)
    return p


def run(ctl, script, relay=False, t0=0, heater=HEATER):
    """script: [(seconds, export_w)] one reading a second from t0, export_w being the export
    WITHOUT the heater; the net power the rules see includes the heater while the relay is on.
    Returns the switch times, the last reason and the relay. The relay follows the decisions."""
    t = t0
    switches = []
    reason = None
    for seconds, export in script:
        for _ in range(seconds):
            net = -export + (heater if relay else 0)
            on, reason = ctl.decide(t, net, 0, relay, heater)
            if on != relay:
                relay = on
                ctl.switched(t)
                switches.append((t, on))
            t += 1
    return switches, reason, relay


def on_since(t, p=PARAMS):
    """A controller whose relay switched on at t."""
    ctl = C.Control(p, -1000)
    ctl.switched(t)
    return ctl


def test_no_start_before_min_off_after_boot():
    ctl = C.Control(PARAMS, 0)
    switches, reason, _ = run(ctl, [(200, 2500)])
    assert switches == [] and reason == C.MIN_OFF
    switches, _, _ = run(ctl, [(101, 2500)], t0=200)
    assert switches == [(300, True)]


def test_start_when_the_heater_would_import_at_most_the_allowance():
    ctl = C.Control(PARAMS, -1000)  # booted long ago
    switches, reason, _ = run(ctl, [(100, START - 1)])
    assert switches == [] and reason == C.LOW_EXPORT
    switches, reason, _ = run(ctl, [(1, START)], t0=100)
    assert switches == [(100, True)] and reason == C.SURPLUS


def test_no_allowance_means_surplus_only():
    ctl = C.Control(params(max_import_w=0), -1000)
    switches, reason, _ = run(ctl, [(50, HEATER - 1)])
    assert switches == [] and reason == C.LOW_EXPORT
    switches, _, _ = run(ctl, [(1, HEATER)], t0=50)
    assert switches == [(50, True)]


def test_the_start_follows_the_learned_heater_power():
    ctl = C.Control(PARAMS, -1000)
    switches, _, _ = run(ctl, [(10, 1600)], heater=2000)
    assert switches == []
    switches, _, _ = run(ctl, [(1, 1600)], t0=10, heater=1800)  # learned: 1800 W
    assert switches == [(10, True)]


def test_a_gap_in_the_clouds_does_not_start_a_run():
    # Ten minutes of 500 W, two of full sun, two of 500 W: the average over about min_on_s
    # stays under heater - 2 X, so this gap in the clouds starts nothing. Then full sun: the
    # average reaches it after some 200 s, and the run starts.
    ctl = C.Control(PARAMS, -1000)
    switches, reason, _ = run(ctl, [(600, 500), (120, 2500)])
    assert switches == [] and reason == C.LOW_AVERAGE
    switches, reason, _ = run(ctl, [(120, 500), (180, 2500)], t0=720)
    assert switches == [] and reason == C.LOW_AVERAGE
    switches, _, _ = run(ctl, [(60, 2500)], t0=1020)
    assert len(switches) == 1 and 1020 < switches[0][0] < 1080, switches


def test_a_start_delay_is_held_and_a_dip_restarts_it():
    ctl = C.Control(params(start_delay_s=30), -1000)
    switches, reason, _ = run(ctl, [(20, 2500), (1, 1000), (30, 2500)])
    assert switches == [] and reason == C.WAIT_START
    switches, _, _ = run(ctl, [(1, 2500)], t0=51)
    assert switches == [(51, True)]  # held 30 s from t=21


def test_a_short_spike_does_not_end_a_run():
    # A 2.5 kW kettle for 8 s: the average export dips about 480 W, not enough to stop.
    ctl = on_since(-1000)
    switches, reason, relay = run(ctl, [(120, 2300), (8, -500), (120, 2300)], relay=True)
    assert switches == [] and relay and reason == C.DIVERTING


def test_a_long_dip_ends_the_run_after_min_on():
    ctl = on_since(0)
    # Two minutes of full import while min_on holds the relay on, then it stops at once.
    switches, reason, relay = run(ctl, [(120, 2300), (120, -500)], relay=True)
    assert switches == [] and reason == C.MIN_ON
    switches, reason, _ = run(ctl, [(61, -500)], relay=True, t0=240)
    assert switches == [(300, False)] and reason == C.IMPORT


def test_the_stop_waits_for_the_average_not_the_reading():
    ctl = on_since(-1000)
    switches, _, _ = run(ctl, [(300, 2000), (60, 0)], relay=True)
    # From 2000 W to nothing: the average crosses 1400 W after about 11 s.
    assert len(switches) == 1 and 308 <= switches[0][0] <= 313, switches


def test_export_above_the_heater_does_not_buy_a_longer_run():
    # Usable export is clipped to the heater's power: 8 kW of export counts as 2 kW.
    a, b = on_since(-1000), on_since(-1000)
    sa, _, _ = run(a, [(600, 2000), (120, 0)], relay=True)
    sb, _, _ = run(b, [(600, 8000), (120, 0)], relay=True)
    assert sa == sb and len(sa) == 1
    # ... and a deep import is no worse than none at all: the heater imports its power at most.
    c = on_since(-1000)
    sc, _, _ = run(c, [(600, 2000), (120, -6000)], relay=True)
    assert sc == sa


def test_a_shallow_dip_within_twice_the_allowance_keeps_it_on():
    ctl = on_since(-1000)
    switches, reason, _ = run(ctl, [(900, STOP + 10)], relay=True)
    assert switches == [] and reason == C.DIVERTING
    switches, _, _ = run(ctl, [(600, STOP - 10)], relay=True, t0=900)
    assert len(switches) == 1


def test_a_large_allowance_still_ends_runs_when_the_sun_goes():
    # X = 1000 W: start at 1000 W of export; heater - 2 X would be 0 W, so the stop level is
    # half the start level instead: 500 W.
    ctl = C.Control(params(max_import_w=1000), -1000)
    switches, _, relay = run(ctl, [(600, 1000), (300, 520), (200, 0)])
    assert [s[1] for s in switches] == [True, False] and not relay
    assert 900 < switches[1][0] < 920, switches  # a few seconds after the sun went at 900
    ctl = C.Control(params(max_import_w=2000), -1000)  # X = the heater: on whatever the sun
    switches, _, relay = run(ctl, [(600, 0)])
    assert switches == [(0, True)] and relay


def test_stale_data_turns_off_at_once_despite_min_on():
    ctl = on_since(0)
    on, reason = ctl.decide(10, -3000, 31, True, HEATER)
    assert (on, reason) == (False, C.STALE)
    on, reason = ctl.decide(10, None, None, True, HEATER)
    assert (on, reason) == (False, C.NO_DATA)
    on, reason = ctl.decide(10, -3000, 30, True, HEATER)
    assert on and reason == C.DIVERTING  # 30 s old is still fresh enough


def test_the_average_starts_afresh_after_a_gap_in_the_data():
    ctl = on_since(-1000)
    run(ctl, [(600, 2000)], relay=True)
    ctl.decide(600, None, None, True, HEATER)
    # The first reading after the gap is the average: full import stops the run at once.
    on, reason = ctl.decide(601, 2500, 0, True, HEATER)
    assert (on, reason) == (False, C.IMPORT)


def test_zero_delays_switch_immediately():
    p = params(start_delay_s=0, stop_delay_s=0, min_on_s=0, min_off_s=0)
    ctl = C.Control(p, 0)
    switches, _, _ = run(ctl, [(1, 2200), (1, 300), (1, 2200)])
    assert switches == [(0, True), (1, False), (2, True)]


def test_describe_gives_the_numbers():
    ctl = C.Control(params(start_delay_s=30), -1000)
    run(ctl, [(12, 1800)])
    contains(ctl.describe(C.WAIT_START, 11, -1800, 0, HEATER), "usable_w=1800 start_w=1700")
    contains(ctl.describe(C.WAIT_START, 11, -1800, 0, HEATER), "held_s=11/30")
    contains(ctl.describe(C.STALE, 11, None, 42, HEATER), "age_s=42")
    ctl = C.Control(PARAMS, -1000)
    run(ctl, [(600, 0), (1, 2000)])
    text = ctl.describe(C.LOW_AVERAGE, 601, -2000, 0, HEATER)
    contains(text, "usable_w=2000 avg_w=6 avg_start_w=1400")
    ctl = on_since(0)
    run(ctl, [(100, 2000), (100, 1000)], relay=True)
    text = ctl.describe(C.MIN_ON, 200, 1000, 0, HEATER)
    contains(text, "stop_w=600")
    contains(text, "left_s=100")
    imp = int(text.split("avg_import_w=")[1].split()[0])
    assert 800 < imp < 1000, text  # the average nears the 1000 W the heater imports now
