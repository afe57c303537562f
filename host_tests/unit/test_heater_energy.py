# heater.py (learning, thermostat; burst.observe in burst mode) and energy.py (runs under
# CPython and MicroPython).
from firmware.burst import observe as burst_observe
from firmware.energy import Energy
from firmware.heater import LATE_S, SETTLE_S, Heater


def total(e):
    return e.before_wh + e.today_wh


def switch_on(h, t, before, after):
    h.switched(t, True, before)
    assert h.observe(t + 1, after, True) is None  # still settling
    return h.observe(t + SETTLE_S, after, True)


def test_a_step_like_the_label_means_heating():
    h = Heater(2000)
    assert switch_on(h, 0, -2500, -560) == "heating"
    assert h.drawing is True and h.last_step == 1940
    assert h.power_w == 2000  # one step is not yet "consistent"


def test_two_consistent_steps_teach_the_power():
    h = Heater(2000)
    switch_on(h, 0, -2500, -560)  # 1940
    assert switch_on(h, 100, -2600, -700) == "learned"  # 1900
    assert h.learned_w == 1920 and h.power_w == 1920
    assert switch_on(h, 200, -2600, -680) == "learned"  # 1920 -> (3*1920+1920)/4
    assert h.learned_w == 1920


def test_inconsistent_or_outsized_steps_teach_nothing():
    h = Heater(2000)
    switch_on(h, 0, -2500, -560)
    assert switch_on(h, 100, -3000, -1500) == "heating"  # 1500: 23 % off the last one
    assert switch_on(h, 200, -4000, 0) == "heating"  # 4000: a kettle switched on too
    assert h.learned_w is None


def test_no_step_means_the_thermostat_is_open():
    h = Heater(2000)
    assert switch_on(h, 0, -2500, -2450) is None  # late readings: the step may still come
    assert h.observe(LATE_S, -2450, True) == "tank-hot"
    assert h.drawing is False and h.learned_w is None


def test_thermostat_opening_and_closing_while_on():
    h = Heater(2000)
    switch_on(h, 0, -2500, -500)
    t = 10
    for net in (-520, -480, -510):  # ordinary noise
        assert h.observe(t, net, True) is None
        t += 1
    assert h.observe(t, -2490, True) == "tank-hot"
    assert h.observe(t + 1, -2500, True) is None
    assert h.observe(t + 2, -480, True) == "heating"


def test_thermostat_step_spread_over_two_readings():
    h = Heater(2000)
    switch_on(h, 0, -2500, -500)
    assert h.observe(10, -1500, True) is None
    assert h.observe(11, -2500, True) == "tank-hot"


def test_energy_splits_surplus_and_grid():
    e = Energy(day=100)
    e.add(3600, 2000, -500)  # all from surplus
    e.add(1800, 2000, 800)  # 800 W of the 2000 W from the grid for half an hour
    e.add(1800, 2000, 5000)  # the whole heater from the grid
    assert e.today_wh == 4000 and total(e) == 4000
    assert e.today_grid_wh == 400 + 1000


def test_energy_day_change_keeps_totals_and_yesterday():
    e = Energy(day=100)
    e.add(3600, 2000, -3000)
    assert e.new_day(100) is False
    assert e.new_day(101) is True
    assert e.today_wh == 0 and e.yesterday_wh == 2000 and total(e) == 2000
    e.new_day(105)  # the board was off for days
    assert e.yesterday_wh == 0 and total(e) == 2000


def test_energy_state_round_trip():
    e = Energy(day=100)
    e.add(3600, 1234.56, 100)
    again = Energy(e.state(), day=100)
    assert again.state() == e.state()
    assert total(again) == 1234.5 and again.today_grid_wh == 100.0
    assert Energy("garbage", day=3).today_wh == 0


# Values from state.json are untrusted: each falls back to the config's value when it is not a
# plausible one. json.loads gives inf for 1e999, and CPython's gives nan for NaN.
INF = float("inf")
NOT_NUMBERS = (None, True, False, "2000", [2000], {"w": 2000}, INF, -INF, INF - INF, 10**30)


def test_a_stored_learned_power_must_be_one_heater_py_could_learn():
    for bad in NOT_NUMBERS + (-3000, 0, 1, 150, 999, 3001, 1e9, -1e-9):
        h = Heater(2000, bad)
        assert h.learned_w is None and h.power_w == 2000, bad
    for good, kept in ((1000, 1000), (1920, 1920), (3000, 3000), (1919.6, 1920)):
        h = Heater(2000, good)
        assert h.learned_w == kept and h.power_w == kept, good
        assert type(h.learned_w) is int


def test_a_negative_stored_power_does_not_switch_on_while_importing():
    from firmware.control import Control

    c = {"start_margin_w": 100, "max_import_w": 200, "start_delay_s": 0, "stop_delay_s": 0}
    c.update({"min_on_s": 0, "min_off_s": 0, "stale_s": 30})
    ctl = Control(c, 0)
    for stored, net in ((-3000, 500), (1, -150)):  # importing 500 W; exporting only 150 W
        h = Heater(2000, stored)
        assert ctl.decide(100, net, 1, False, h.power_w) == (False, "low-export"), stored


def test_what_heater_py_learns_it_accepts_back():
    for rated in (100, 101, 2000, 12000):
        for step in (rated * 0.5, rated * 1.5, rated):
            h = Heater(rated)
            switch_on(h, 0, -20000, -20000 + step)
            assert switch_on(h, 100, -20000, -20000 + step) == "learned", (rated, step)
            assert Heater(rated, h.learned_w).learned_w == h.learned_w, (rated, step)


def test_stored_energy_counters_are_checked():
    fields = ("today_wh", "today_grid_wh", "yesterday_wh", "total_wh", "total_grid_wh")
    for bad in NOT_NUMBERS + (-1, -0.5, 1e12):
        e = Energy({k: bad for k in fields}, day=None)
        for k in ("today_wh", "today_grid_wh", "yesterday_wh", "before_wh", "before_grid_wh"):
            assert getattr(e, k) == 0, (k, bad)
        e.add(3600, 2000, 0)  # a poll after loading must not raise
        e.state()
    e = Energy({"today_wh": 10, "total_wh": 20.5, "today_grid_wh": 3})
    assert (e.today_wh, total(e), e.today_grid_wh) == (10, 20, 3)  # totals: whole Wh
    assert Energy({"today_wh": 5, "today_grid_wh": 9}).today_grid_wh == 5  # part <= whole


def test_stored_day_must_be_a_day_number_or_none():
    for bad in (True, 1.5, "19000", -1, 10**9, INF, [19000]):
        e = Energy({"day": bad, "today_wh": 100})
        assert e.day is None, bad
        assert e.new_day(19000) is True and e.yesterday_wh == 0
    assert Energy({"day": 19000}).day == 19000
    assert Energy({"day": None}).day is None


def test_the_thermostat_lines_carry_the_jump_that_triggered_them():
    # Issue 15: the "tank hot" and "heating" lines printed the switch-on step.
    h = Heater(2000)
    switch_on(h, 0, -2500, -550)
    assert h.jump == 1950
    assert h.observe(10, -2516, True) == "tank-hot"
    assert h.jump == -1966 and h.last_step == 1950
    assert h.observe(11, -520, True) == "heating"
    assert h.jump == 1996


def burst(h, readings):
    """(net_w, share in 1/1000) per fresh reading -> the events."""
    return [burst_observe(h, net, share) for net, share in readings]


def test_burst_a_share_change_shows_the_heater():
    h = Heater(2000)
    # Starting trusts the label; a quarter more share that adds ~480 W is heating.
    assert burst(h, [(-1000, 0), (-980, 250)]) == [None, "heating"]
    assert h.drawing is True
    assert burst(h, [(-500, 500)]) == [None]  # a step of 1920 W (not enough change to learn)
    assert h.jump == 1920 and h.learned_w is None
    # Two drops of a full share a reading apart (a kettle came on) teach the power.
    events = burst(h, [(-470, 500), (-1420, 0), (-460, 500), (-1415, 0)])
    assert events == [None, None, "learned", "learned"]
    assert h.learned_w == 1910


def test_burst_no_change_of_net_with_the_share_is_a_hot_tank():
    h = Heater(2000)
    burst(h, [(-1500, 0), (-1000, 250)])
    assert burst(h, [(-1010, 500)]) == ["tank-hot"]
    assert h.drawing is False and h.jump == -40
    assert burst(h, [(-1000, 750), (-1005, 1000)]) == [None, None]  # still hot: one line
    # At full share the thermostat closing is a jump of the heater's power.
    assert burst(h, [(-1000, 1000), (950, 1000)]) == [None, "heating"]
    assert h.jump == 1950
    assert burst(h, [(-1000, 1000)]) == ["tank-hot"]


def test_burst_small_changes_and_noise_tell_nothing():
    h = Heater(2000)
    burst(h, [(-1500, 0), (-1000, 250)])
    assert burst(h, [(-800, 350), (-2000, 350), (-600, 500), (-650, 500)]) == [None] * 4
    assert h.drawing is True and burst_observe(h, None, 500) is None
