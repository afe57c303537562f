# clock.py (dates, DST) and boost.py (runs under CPython and MicroPython).
from support import contains

from firmware import clock
from firmware.boost import Boost
from firmware.compat import EPOCH_2000, unix_from_native


def utc(y, mo, d, h=0, mi=0):
    return clock.days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60


def test_civil_round_trip_and_known_dates():
    assert clock.days_from_civil(1970, 1, 1) == 0
    assert clock.days_from_civil(2000, 1, 1) * 86400 == EPOCH_2000
    assert clock.civil_from_days(clock.days_from_civil(2024, 2, 29)) == (2024, 2, 29)
    for z in (0, 10956, 19782, 20417, 60000):
        assert clock.days_from_civil(*clock.civil_from_days(z)) == z
    assert clock.weekday(clock.days_from_civil(2026, 11, 25)) == 2  # a Wednesday


def test_native_time_on_both_epochs():
    # An ESP32 counts from 2000: the same instant is 30 years of seconds smaller there.
    instant = utc(2026, 11, 25, 12)
    assert unix_from_native(instant - EPOCH_2000, EPOCH_2000) == instant
    assert unix_from_native(instant, 0) == instant


def test_eu_dst_changes_at_one_utc_on_the_last_sundays():
    assert not clock.dst_active(utc(2026, 3, 29, 0, 59), "eu", 60)
    assert clock.dst_active(utc(2026, 3, 29, 1, 0), "eu", 60)
    assert clock.dst_active(utc(2026, 10, 25, 0, 59), "eu", 0)
    assert not clock.dst_active(utc(2026, 10, 25, 1, 0), "eu", 0)
    assert clock.hms(clock.local(utc(2026, 7, 1, 12), 60, "eu")) == "14:00:00"
    assert clock.hms(clock.local(utc(2026, 12, 1, 12), 60, "eu")) == "13:00:00"


def test_us_dst_follows_local_time():
    # New York (-300): 2026-03-08 02:00 EST = 07:00 UTC; 2026-11-01 02:00 EDT = 06:00 UTC.
    assert not clock.dst_active(utc(2026, 3, 8, 6, 59), "us", -300)
    assert clock.dst_active(utc(2026, 3, 8, 7, 0), "us", -300)
    assert clock.dst_active(utc(2026, 11, 1, 5, 59), "us", -300)
    assert not clock.dst_active(utc(2026, 11, 1, 6, 0), "us", -300)
    assert not clock.dst_active(utc(2026, 7, 1), "none", -300)


def test_windows_inside_and_across_midnight():
    assert clock.in_window(60, (60, 300)) and not clock.in_window(300, (60, 300))
    night = (22 * 60, 6 * 60)
    assert clock.in_window(23 * 60, night) and clock.in_window(0, night)
    assert clock.in_window(359, night) and not clock.in_window(360, night)
    assert not clock.in_window(12 * 60, night)


def test_clock_unset_is_recognised():
    assert not clock.is_set(946684800 + 120)  # an ESP32 that booted without NTP
    assert clock.is_set(utc(2026, 1, 1))


def test_boost_tops_up_across_midnight():
    b = Boost(3.0, (22 * 60, 6 * 60))
    day = 20000 * 86400
    assert not b.active(day + 21 * 3600, 1000, 0)  # before the window
    assert b.active(day + 22 * 3600, 1200, 0)  # 1.2 kWh diverted: 1.8 to go
    contains(b.note, "heating 1.8 kWh")
    assert abs(b.remaining_wh - 1800) < 0.01
    b.delivered(1000)
    # After midnight "today" restarts at 0, but the window still belongs to the day it opened.
    assert b.active(day + 86400 + 3600, 0, 2200)
    b.delivered(800)
    assert not b.active(day + 86400 + 2 * 3600, 0, 3000)
    contains(b.note, "target reached")


def test_boost_not_needed_when_enough_was_diverted():
    b = Boost(3.0, (22 * 60, 6 * 60))
    assert not b.active(20000 * 86400 + 23 * 3600, 3500, 0)
    contains(b.note, "no top-up needed")


def test_boost_started_after_midnight_uses_yesterday():
    b = Boost(3.0, (22 * 60, 6 * 60))
    assert b.active(20000 * 86400 + 2 * 3600, 0, 2500)  # rebooted at 02:00
    assert abs(b.remaining_wh - 500) < 0.01


def test_boost_stops_at_window_end_and_when_tank_hot():
    b = Boost(2.0, (60, 240))
    day = 20000 * 86400
    assert b.active(day + 3600, 0, 0)
    assert not b.active(day + 4 * 3600, 0, 0)
    contains(b.note, "still to go")
    assert b.active(day + 86400 + 3600, 0, 0)  # the next night opens a new window
    b.tank_hot()
    assert not b.active(day + 86400 + 3700, 0, 0)
    contains(b.note, "tank is hot")


def test_boost_window_across_the_eu_spring_change():
    # Central Europe, 2026-03-29: 02:00 CET jumps to 03:00 CEST. Window 01:30-04:00 local.
    b = Boost(1.0, (90, 240))
    steps = []
    t = utc(2026, 3, 29, 0, 0)  # 01:00 CET
    while t < utc(2026, 3, 29, 3, 0):  # 05:00 CEST
        steps.append(
            (clock.hms(clock.local(t, 60, "eu")), b.active(clock.local(t, 60, "eu"), 0, 0))
        )
        t += 1800
    assert steps == [
        ("01:00:00", False),
        ("01:30:00", True),
        ("03:00:00", True),
        ("03:30:00", True),
        ("04:00:00", False),
        ("04:30:00", False),
    ], steps


def test_boost_off_when_not_configured():
    assert not Boost(0, (60, 120)).active(20000 * 86400 + 4000, 0, 0)
    assert not Boost(2, None).active(20000 * 86400 + 4000, 0, 0)
