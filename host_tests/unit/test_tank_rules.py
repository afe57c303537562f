# tank_rules: max_c stops diverting (with hysteresis), hot water (min_c) by a time from the grid
# just in time and only as far as needed, and the rolling 7-day legionella cycle: surplus past
# max_c while it is near, the grid at the end of its window on the day it is due (both runtimes).
from support import raises

from firmware import tank_rules as tr

DAY = 86400
TODAY = 20418  # 2025-11-25


def at(hour, minute=0, day=TODAY):
    return day * DAY + hour * 3600 + minute * 60


def rules(reached_day=None, **t):
    cfg = {
        "pin": 4,
        "max_c": 60,
        "min_c": 0,
        "hot_by": "",
        "litres": 200,
        "legionella_c": 0,
        "legionella_window": "",
    }
    cfg.update(t)
    return tr.Rules(cfg, reached_day)


def test_lead_is_the_heating_time_with_a_margin():
    # 10 K in 200 l: 2326 Wh, 1.16 h at 2 kW; x1.25 and 15 minutes
    assert tr.lead_min(10, 2000, 200) == 102
    assert tr.lead_min(5, 2000, 200) == 58
    assert tr.lead_min(10, 0, 200) == tr.MAX_LEAD_MIN


def test_max_c_stops_diverting_with_hysteresis():
    r = rules()
    for c, full in ((59.9, False), (60.0, True), (58.5, True), (57.9, False), (59.0, False)):
        r.update(at(12), c, 2000)
        assert r.full is full, (c, full)
    r = rules(max_c=0)  # no limit: the element's thermostat alone
    r.update(at(12), 80.0, 2000)
    assert not r.full


def test_max_c_works_without_the_clock():
    r = rules()
    r.update(None, 61.0, 2000)
    assert r.full and r.heat is None


def test_no_temperature_is_as_without_a_sensor():
    r = rules(min_c=45, hot_by="18:00")
    r.update(at(12), 61.0, 2000)
    assert r.full
    r.update(at(17, 30), None, 2000)
    assert not r.full and r.heat is None and not r.enough()


def test_the_evening_top_up_starts_just_in_time_and_stops_at_min_c():
    r = rules(min_c=45, hot_by="18:00")
    r.update(at(12), 40.0, 2000)
    assert r.heat is None  # the afternoon's surplus may still do it
    r.update(at(17, 1), 40.0, 2000)
    assert r.heat is None  # 5 K need 58 minutes: not yet
    r.update(at(17, 2), 40.0, 2000)
    assert r.heat == tr.HOT_BY
    assert "heating from the grid to 45 C by 18:00 (tank_c=40.0, about 58 min)" in r.notes[-1]
    r.update(at(17, 45), 45.0, 2000)
    assert r.heat is None and "tank_c=45.0 reached" in r.notes[-1]
    r.update(at(17, 50), 44.1, 2000)  # standing losses: no second top-up for them
    assert r.heat is None
    r.update(at(17, 55), 43.9, 2000)  # a shower, 1 K under: topped up again, it is due at 18:00
    assert r.heat == tr.HOT_BY
    r.update(at(17, 58), 45.0, 2000)
    r.update(at(18, 30), 40.0, 2000)  # after 18:00: nothing until tomorrow's top-up
    assert r.heat is None
    r.update(at(17, 10, TODAY + 1), 40.0, 2000)  # the next evening: again
    assert r.heat == tr.HOT_BY


def test_no_top_up_when_the_surplus_got_there():
    r = rules(min_c=45, hot_by="18:00")
    for hour in (12, 15, 17):
        r.update(at(hour, 30), 52.0, 2000)
        assert r.heat is None
    assert r.enough()  # and a kWh boost need not heat either


def test_a_colder_tank_starts_earlier_within_eight_hours():
    r = rules(min_c=45, hot_by="18:00")
    r.update(at(15), 35.0, 2000)  # 10 K: 102 minutes
    assert r.heat is None
    r.update(at(16, 18), 35.0, 2000)
    assert r.heat == tr.HOT_BY
    r = rules(min_c=45, hot_by="18:00", litres=2000)  # 40 K in 2000 l would take 46 h
    r.update(at(9, 59), 5.0, 2000)
    assert r.heat is None
    r.update(at(10), 5.0, 2000)
    assert r.heat == tr.HOT_BY  # capped: it starts 8 hours ahead at most


def test_the_deadline_passing_ends_the_top_up_with_what_is_missing():
    r = rules(min_c=45, hot_by="18:00")
    r.update(at(17, 30), 40.0, 2000)
    assert r.heat == tr.HOT_BY
    r.update(at(18), 43.5, 2000)
    assert r.heat is None and "its time passed at tank_c=43.5, 1.5 K short" in r.notes[-1]


def test_a_deadline_after_midnight():
    r = rules(min_c=45, hot_by="00:30")
    r.update(at(23, 50), 40.0, 2000)
    assert r.heat == tr.HOT_BY  # 40 minutes to go, 58 needed
    r.update(at(0, 29, TODAY + 1), 41.0, 2000)
    assert r.heat == tr.HOT_BY
    r.update(at(0, 30, TODAY + 1), 42.0, 2000)
    assert r.heat is None


def test_a_failed_sensor_stops_the_top_up_which_resumes_when_it_is_back():
    r = rules(min_c=45, hot_by="18:00")
    r.update(at(17, 30), 40.0, 2000)
    assert r.heat == tr.HOT_BY
    r.update(at(17, 31), None, 2000)
    assert r.heat is None and "stopped, no temperature (the sensor failed)" in r.notes[-1]
    r.update(at(17, 35), 40.5, 2000)
    assert r.heat == tr.HOT_BY


def test_the_thermostat_opening_ends_the_grid_targets_for_the_day():
    r = rules(min_c=45, hot_by="18:00")
    r.update(at(17, 30), 40.0, 2000)
    r.thermostat_open()
    assert "the element's thermostat opened at tank_c=40.0 (set it above 45 C)" in r.notes[-1]
    r.update(at(17, 31), 40.0, 2000)
    assert r.heat is None


def test_without_the_clock_no_grid_target():
    r = rules(min_c=45, hot_by="18:00")
    r.update(at(17, 30), 40.0, 2000)
    r.update(None, 40.0, 2000)
    assert r.heat is None and "stopped, no clock" in r.notes[-1]


def legionella(reached_day=None, **t):
    t = dict({"legionella_c": 60, "legionella_window": "12:00-16:00"}, **t)
    return rules(reached_day, **t)


def test_a_first_cycle_is_due_without_a_record():
    r = legionella()
    r.update(at(10), 58.0, 2000)
    assert r.limit == 60 and r.heat is None  # surplus first, until the end of the window
    assert r.due_in(TODAY) == 0


def test_the_cycle_takes_surplus_past_max_c_then_the_grid_at_the_end_of_its_window():
    r = legionella(max_c=55)
    r.update(at(11), 56.0, 2000)
    assert r.limit == 60 and not r.full  # surplus may heat past max_c today
    r.update(at(14, 17), 50.0, 2000)
    assert r.heat is None
    r.update(at(14, 18), 50.0, 2000)  # 10 K: 102 minutes before 16:00
    assert r.heat == tr.LEGIONELLA
    r.update(at(15, 40), 60.0, 2000)
    assert r.heat is None and r.dirty and r.reached_day == TODAY
    assert (
        "tank: legionella_c=60 reached (tank_c=60.0); the next cycle is due in 7 days" in r.notes
    )
    assert r.limit == 55 and r.full  # max_c again
    assert r.due_in(TODAY) == 7


def test_the_grid_finish_stays_inside_its_window():
    r = legionella(legionella_window="15:00-16:00")
    r.update(at(14, 30), 40.0, 2000)  # 20 K would need 3 h 9 min: the window is 1 h
    assert r.heat is None
    r.update(at(15), 40.0, 2000)
    assert r.heat == tr.LEGIONELLA
    r.update(at(16), 52.0, 2000)
    assert r.heat is None and "its time passed at tank_c=52.0, 8.0 K short" in r.notes[-1]
    r.update(at(15, 0, TODAY + 1), 45.0, 2000)  # still due: again the next day
    assert r.heat == tr.LEGIONELLA


def test_a_sunny_day_that_reaches_it_saves_the_grid_cycle():
    r = legionella(reached_day=TODAY - 3)
    r.update(at(13), 61.0, 2000)  # the tank got there from surplus (max_c was 60)
    assert r.reached_day == TODAY and r.dirty
    r.dirty = False
    r.update(at(14), 61.0, 2000)
    assert not r.dirty  # one record a day: flash wears


def test_near_the_deadline_surplus_may_heat_past_max_c():
    r = legionella(reached_day=TODAY - 4, max_c=55)
    r.update(at(12), 56.0, 2000)
    assert r.limit == 55 and r.full
    r = legionella(reached_day=TODAY - 5, max_c=55)
    r.update(at(12), 56.0, 2000)
    assert r.limit == 60 and not r.full and r.heat is None  # no grid before it is due


def test_due_on_the_seventh_day():
    r = legionella(reached_day=TODAY - 7)
    r.update(at(15), 50.0, 2000)
    assert r.heat == tr.LEGIONELLA
    r = legionella(reached_day=TODAY - 6)
    r.update(at(15), 50.0, 2000)
    assert r.heat is None


def test_a_record_from_the_future_is_ignored():
    r = legionella(reached_day=TODAY + 30)
    r.update(at(15), 50.0, 2000)
    assert "the legionella record is from the future" in r.notes[0]
    assert r.reached_day is None and r.heat == tr.LEGIONELLA


def test_legionella_comes_before_the_evening_target():
    r = legionella(min_c=45, hot_by="16:00")
    r.update(at(15, 30), 40.0, 2000)
    assert r.heat == tr.LEGIONELLA and r.evening.on


def test_a_window_across_midnight():
    r = legionella(legionella_window="22:00-02:00")
    r.update(at(23), 59.0, 2000)
    assert r.heat is None  # 1 K: 18 minutes; 3 hours are left
    r.update(at(1, 42, TODAY + 1), 59.0, 2000)
    assert r.heat == tr.LEGIONELLA
    r = legionella(legionella_window="22:00-02:00")
    r.update(at(21, 59), 30.0, 2000)  # 30 K need 4 h 36 min: all of its 4 hours
    assert r.heat is None
    r.update(at(22), 30.0, 2000)
    assert r.heat == tr.LEGIONELLA


def test_hhmm():
    assert tr.hhmm("18:00") == 1080 and tr.hhmm("0:05") == 5
    for bad in ("18", "18:0", "24:00", "12:60", "ab:cd", "18:00:00", ""):
        raises(ValueError, tr.hhmm, bad)
