# lag.py: how late the Envoy's readings are, measured from what the board sees (both runtimes).
from firmware import lag as L
from firmware.heater import LATE_S, SETTLE_S, Heater

P = 2000


def world(lag, shares, period=1, stamps=True, clock=0):
    """Drive a Lag as the diverter does: each pass the output delivers shares[k] (1/1000);
    the meter holds a new value every period passes; the board gets it lag passes later.
    clock: how far the Envoy's clock is behind the board's (None: no clock)."""
    g = L.Lag(1)
    nets = []
    last = None
    for k, s in enumerate(shares):
        nets.append(-1000 + P * s // 1000)
        j = k - lag
        if j >= 0:
            j -= j % period
            if j != last:  # a new timestamp: a fresh reading
                last = j
                now = None if clock is None else k + clock
                g.fresh(nets[j], P, j if stamps else None, now)
        g.applied(s)
    return g


def steps(n, every=37):
    # The output stepping between a quarter and three quarters of P: what a controller does
    # when loads come and go.
    return [250 if (k // every) % 2 else 750 for k in range(n)]


def test_nothing_known_is_one_to_two_passes():
    g = L.Lag()
    assert g.window() == (1, 2) and g.step_lo is None
    s = g.status()
    assert s["lag_s"] == 1.5 and s["lag_step_s"] is None and s["lag_stamp_s"] is None
    assert s["update_s"] is None and s["lag_junk"] is None


def test_the_steps_give_the_lag_without_a_clock():
    for lag in (1, 3, 5, 10, 15):
        g = world(lag, steps(1200), clock=None)
        assert g.step_lo is not None and g.window() == (lag, lag), (lag, g.window())
        assert g.status()["lag_stamp_s"] is None  # no clock, no timestamp age


def test_the_timestamps_give_the_lag_before_the_steps_do():
    g = world(4, [500] * 60)  # the output never moves: nothing to learn from steps
    assert g.step_lo is None
    assert g.status()["lag_stamp_s"] == 4 and g.window() == (4, 5)


def test_the_steps_win_over_an_envoy_clock_that_is_off():
    g = world(3, steps(1200), clock=7)  # timestamps say 10 s
    assert g.status()["lag_stamp_s"] == 10
    assert g.window() == (3, 3)


def test_the_update_period_is_measured_and_the_span_between_samples_used():
    g = world(2, steps(1500), period=5, clock=None)
    assert g.status()["update_s"] == 5
    lo, hi = g.window()
    assert lo <= 2 <= hi + 4 and hi <= 6, (lo, hi)  # shares in 5-pass blocks: ties in a block


def test_junk_timestamps_are_not_counted():
    g = L.Lag()
    g.fresh(0, P, 1000, 990)  # from the future
    assert g.junk == L.FUTURE and g.stamp16 is None
    g.fresh(0, P, 1000, 1000 + L.MAX_AGE_S + 1)  # older than any lag: a wrong clock
    assert g.junk == L.OLD and g.stamp16 is None
    g.fresh(0, P, 1000, 1002)
    assert g.junk is None and g.status()["lag_stamp_s"] == 2
    g.fresh(0, P, None, 1003)  # no timestamp: nothing said about it
    assert g.status()["lag_stamp_s"] == 2


def test_a_long_gap_or_a_timestamp_jump_judges_no_step():
    g = L.Lag()
    g.fresh(-1000, P, 100, None)
    for _ in range(L.MAX_GAP + 1):
        g.applied(1000)
    g.fresh(1000, P, 117, None)
    assert g.seen == 0 and g.period16 is None  # the gap is not a period either
    g.applied(0)
    g.fresh(-1000, P, 500, None)  # the Envoy's clock jumped: the span is nonsense
    assert g.seen == 0


def test_a_heater_that_shows_no_steps_keeps_the_last_lag():
    g = world(3, steps(1200), clock=None)
    assert g.window() == (3, 3)
    # The tank is hot: the output moves, the readings do not.
    shares = steps(2000)
    for k in range(2000):
        g.applied(shares[k])
        g.fresh(-1000, P, None, None)
    lo, hi = g.window()
    assert lo == 3 and hi <= 4, (lo, hi)  # not the longest candidate, as ties would give


def test_the_relays_heater_model_waits_for_a_late_step():
    # With readings 10 s old the switch-on step came after the 5 s the model waited: every
    # start was taken for a hot tank (no energy counted). A missing step is now waited for.
    h = Heater(P)
    h.switched(0, True, -2500)
    assert h.observe(6, -2500, True) is None and h.drawing is None  # no step yet: wait
    assert h.observe(11, -560, True) == "heating" and h.last_step == 1940
    h.switched(100, True, -2500)
    for t in range(105, 120):
        assert h.observe(t, -2490, True) is None
    assert h.observe(120, -2490, True) == "tank-hot"  # no step within LATE_S: the tank is hot
    assert SETTLE_S < LATE_S


def test_the_span_of_shares():
    g = L.Lag()
    for s in (100, 900, 400, 400):
        g.applied(s)
    assert g.span(1, 2) == (400, 400) and g.span(1, 3) == (400, 900)
    assert g.span(1, 4) == (100, 900)
