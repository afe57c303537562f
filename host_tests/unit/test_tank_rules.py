# The tank's rules (tank_rules.py, run once a minute, and tank.Tank.want every pass): max_c stops
# diverting (with hysteresis), hot water (min_c) by a time from the grid just in time and only as
# far as needed, and the rolling 7-day legionella cycle: surplus past max_c while it is near, the
# grid at the end of its window on the day it is due (both runtimes).
import os
import sys

from support import raises, tmpdir
from tank_support import Captured, Script

from firmware import clock_text
from firmware import tank_rules as tr
from firmware.tank import Tank

DAY = 86400
TODAY = 20418  # 2025-11-25


def at(hour, minute=0, day=TODAY):
    return day * DAY + hour * 3600 + minute * 60


class Rig:
    """A Tank whose temperature the test sets; want() as the policy calls it each pass."""

    def __init__(self, reached_day=None, **t):
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
        os.chdir(tmpdir())
        self.tank = Tank(cfg, Script(50.0), 0.0)
        self.p = self.tank.plan
        self.p.reached_day = reached_day
        self.lines = []

    def __call__(self, local, c, power_w=2000):
        """The reason to heat from the grid at local with the tank at c."""
        self.tank.sensor.c = c
        with Captured() as lines:
            heat = self.tank.want(local, power_w)
        self.lines += lines
        return heat

    @property
    def full(self):
        return self.p.full

    def said(self, text):
        return [x for x in self.lines if text in x]


def test_lead_is_the_heating_time_with_a_margin():
    # 10 K in 200 l: 2326 Wh, 1.16 h at 2 kW; x1.25 and 15 minutes
    assert tr.lead_min(10, 2000, 200) == 102
    assert tr.lead_min(5, 2000, 200) == 58
    assert tr.lead_min(10, 0, 200) == tr.MAX_LEAD_MIN


def test_max_c_stops_diverting_with_hysteresis():
    r = Rig()
    for c, full in ((59.9, False), (60.0, True), (58.5, True), (57.9, False), (59.0, False)):
        r(at(12), c)
        assert r.full is full, (c, full)
    r = Rig(max_c=0)  # no limit: the element's thermostat alone
    r(at(12), 80.0)
    assert not r.full


def test_max_c_works_without_the_clock_and_without_loading_the_rules():
    sys.modules.pop("firmware.tank_rules", None)
    r = Rig()
    assert r(None, 61.0) is None and r.full
    assert "firmware.tank_rules" not in sys.modules  # no target configured: never loaded


def test_the_rules_are_loaded_once_a_minute_and_dropped():
    r = Rig(min_c=45, hot_by="18:00")
    r(at(12), 50.0)
    assert "firmware.tank_rules" not in sys.modules


def test_no_temperature_is_as_without_a_sensor():
    r = Rig(min_c=45, hot_by="18:00")
    r(at(12), 61.0)
    assert r.full
    assert r(at(17, 30), None) is None
    assert not r.full and not r.tank.enough()


def test_the_evening_top_up_starts_just_in_time_and_stops_at_min_c():
    r = Rig(min_c=45, hot_by="18:00")
    r(at(12), 40.0)
    r(at(17, 1), 40.0)
    assert r(at(17, 2), 40.0) == "hot-by"
    assert r.said(
        "tank: hot-by: heating from the grid to 45 C by 18:00 (tank_c=40.0, about 58 min)"
    )
    assert r(at(17, 2) + 30, 44.9) == "hot-by"  # the same minute: no rules, still heating
    assert r(at(17, 2) + 40, 45.0) is None  # at min_c: stopped in that pass
    assert r.said("tank: hot-by: done, tank_c=45.0 reached")
    assert r(at(17, 3), 44.95) is None  # noise: it was reached
    assert r(at(17, 50), 44.1) is None  # standing losses: no second top-up for them
    assert r(at(17, 55), 43.9) == "hot-by"  # a shower, 1 K under: again, it is due at 18:00
    assert r(at(17, 58), 45.0) is None
    assert r(at(18, 30), 40.0) is None  # after 18:00: nothing until tomorrow's top-up
    assert r(at(17, 10, TODAY + 1), 40.0) == "hot-by"


def test_no_top_up_when_the_surplus_got_there():
    r = Rig(min_c=45, hot_by="18:00")
    for hour in (12, 15, 17):
        assert r(at(hour, 30), 52.0) is None
    assert r.tank.enough()  # and a kWh boost need not heat either


def test_a_colder_tank_starts_earlier_within_eight_hours():
    r = Rig(min_c=45, hot_by="18:00")
    assert r(at(15), 35.0) is None  # 10 K: 102 minutes
    assert r(at(16, 18), 35.0) == "hot-by"
    r = Rig(min_c=45, hot_by="18:00", litres=2000)  # 40 K in 2000 l would take 46 h
    assert r(at(9, 59), 5.0) is None
    assert r(at(10), 5.0) == "hot-by"  # capped: it starts 8 hours ahead at most


def test_the_deadline_passing_ends_the_top_up_with_what_is_missing():
    r = Rig(min_c=45, hot_by="18:00")
    assert r(at(17, 30), 40.0) == "hot-by"
    assert r(at(18), 43.5) is None
    assert r.said("tank: hot-by: done, its time passed at tank_c=43.5, 1.5 K short")


def test_a_deadline_after_midnight():
    r = Rig(min_c=45, hot_by="00:30")
    assert r(at(23, 50), 40.0) == "hot-by"  # 40 minutes to go, 58 needed
    assert r(at(0, 29, TODAY + 1), 41.0) == "hot-by"
    assert r(at(0, 30, TODAY + 1), 42.0) is None


def test_a_failed_sensor_stops_the_top_up_at_once_which_resumes_when_it_is_back():
    r = Rig(min_c=45, hot_by="18:00")
    assert r(at(17, 30), 40.0) == "hot-by"
    assert r(at(17, 30) + 20, None) is None  # in the same minute: at once
    assert r(at(17, 31), None) is None
    assert r.said("tank: hot-by: stopped, no temperature (the sensor failed)")
    assert r(at(17, 35), 40.5) == "hot-by"


def test_the_thermostat_opening_ends_the_grid_targets_for_the_day():
    r = Rig(min_c=45, hot_by="18:00")
    assert r(at(17, 45), 44.0) == "hot-by"
    heater = type("H", (), {"drawing": False, "jump": 20})()
    with Captured() as lines:
        assert r.tank.overrule(heater, 100.0) is False  # 44 C: a thermostat may be open
    assert (
        "tank: hot-by: done, the element's thermostat opened at tank_c=44.0 (set it above 45 C)"
        in lines
    )
    assert r(at(17, 46), 44.0) is None


def test_without_the_clock_no_grid_target():
    r = Rig(min_c=45, hot_by="18:00")
    assert r(at(17, 30), 40.0) == "hot-by"
    assert r(None, 40.0) is None
    assert r.said("tank: hot-by: stopped, no clock")


def legionella(reached_day=None, **t):
    t = dict({"legionella_c": 60, "legionella_window": "12:00-16:00"}, **t)
    return Rig(reached_day, **t)


def test_a_first_cycle_is_due_without_a_record():
    r = legionella()
    assert r(at(10), 58.0) is None  # surplus first, until the end of the window
    assert r.p.limit == 60 and tr.due_in(r.p, TODAY) == 0


def test_the_cycle_takes_surplus_past_max_c_then_the_grid_at_the_end_of_its_window():
    r = legionella(max_c=55)
    r(at(11), 56.0)
    assert r.p.limit == 60 and not r.full  # surplus may heat past max_c today
    assert r(at(14, 17), 50.0) is None
    assert r(at(14, 18), 50.0) == "legionella"  # 10 K: 102 minutes before 16:00
    assert r(at(15, 40), 60.0) is None and r.p.reached_day == TODAY
    assert r.said("tank: legionella_c=60 reached (tank_c=60.0); the next cycle is due in 7 days")
    with open("tank.json") as f:
        assert f.read() == '{"legionella_day": %d}' % TODAY  # on flash at once
    r(at(15, 41), 60.0)
    assert r.p.limit == 55 and r.full  # max_c again
    assert tr.due_in(r.p, TODAY) == 7


def test_the_grid_finish_stays_inside_its_window():
    r = legionella(legionella_window="15:00-16:00")
    assert r(at(14, 30), 40.0) is None  # 20 K would need 3 h 9 min: the window is 1 h
    assert r(at(15), 40.0) == "legionella"
    assert r(at(16), 52.0) is None
    assert r.said("tank: legionella: done, its time passed at tank_c=52.0, 8.0 K short")
    assert r(at(15, 0, TODAY + 1), 45.0) == "legionella"  # still due: again the next day


def test_a_sunny_day_that_reaches_it_saves_the_grid_cycle():
    r = legionella(reached_day=TODAY - 3)
    r(at(13), 61.0)  # the tank got there from surplus (max_c was 60)
    assert r.p.reached_day == TODAY
    mtime = os.stat("tank.json")[8]
    r(at(14), 61.0)
    assert os.stat("tank.json")[8] == mtime  # one record a day: flash wears
    assert not r.said("reached")  # 4 days before the deadline: not news


def test_near_the_deadline_surplus_may_heat_past_max_c():
    r = legionella(reached_day=TODAY - 4, max_c=55)
    r(at(12), 56.0)
    assert r.p.limit == 55 and r.full
    r = legionella(reached_day=TODAY - 5, max_c=55)
    assert r(at(12), 56.0) is None  # no grid before it is due
    assert r.p.limit == 60 and not r.full


def test_due_on_the_seventh_day():
    assert legionella(reached_day=TODAY - 7)(at(15), 50.0) == "legionella"
    assert legionella(reached_day=TODAY - 6)(at(15), 50.0) is None


def test_a_record_from_the_future_is_ignored():
    r = legionella(reached_day=TODAY + 30)
    assert r(at(15), 50.0) == "legionella"
    assert r.said("tank: the legionella record is from the future; ignoring it")
    assert r.p.reached_day is None


def test_legionella_comes_before_the_evening_target():
    r = legionella(min_c=45, hot_by="16:00")
    assert r(at(15, 30), 40.0) == "legionella"
    assert r.p.targets[1].on  # the evening target heats too, by the same heat


def test_a_window_across_midnight():
    r = legionella(legionella_window="22:00-02:00")
    assert r(at(23), 59.0) is None  # 1 K: 18 minutes; 3 hours are left
    assert r(at(1, 42, TODAY + 1), 59.0) == "legionella"
    r = legionella(legionella_window="22:00-02:00")
    assert r(at(21, 59), 30.0) is None  # 30 K need 4 h 36 min: all of its 4 hours
    assert r(at(22), 30.0) == "legionella"


def test_hhmm():
    assert clock_text.hhmm("18:00") == 1080 and clock_text.hhmm("0:05") == 5
    for bad in ("18", "18:0", "24:00", "12:60", "ab:cd", "18:00:00", ""):
        raises(ValueError, clock_text.hhmm, bad)
