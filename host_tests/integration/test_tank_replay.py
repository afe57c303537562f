# tools/bench/replay_tank.py: its tank model's physics, the firmware's tank code under it, the
# timers it is compared with, and the command (the 20 days' table is in the README; it runs apart).
import json
import os

from tools.bench import replay_tank as rt
from tools.bench.replay import TRACES, settings


def test_the_water_heats_loses_and_is_drawn_as_physics_says():
    w = rt.Water(200, c=40.0)
    for _ in range(3600):
        w.advance(1, 2000.0, 3 * 3600)  # 3 am: no tap open
    # 2 kWh into 200 l: 8.6 K, less the loss (1.6 W/K over a room at 15 C, about 0.2 K)
    assert 48.3 < w.c < 48.5, w.c
    w = rt.Water(200, c=60.0)
    for tod in range(7 * 3600, 7 * 3600 + 600):
        w.advance(1, 0.0, tod)  # 60 l at 40 C from 10 C: 2.09 kWh, 9 K of 200 l
    assert 50.9 < w.c < 51.1 and w.short_wh == 0, w.c
    cold = rt.Water(200, c=35.0)
    for tod in range(7 * 3600, 7 * 3600 + 600):
        cold.advance(1, 0.0, tod)
    assert cold.short_wh > 0  # under 40 C the taps do not get what they want


def test_the_thermostat_opens_and_closes_with_its_hysteresis():
    w = rt.Water(200, c=64.9, thermostat_c=65.0)
    assert w.thermostat()
    w.c = 65.0
    assert not w.thermostat()
    w.c = 62.0
    assert not w.thermostat()
    w.c = 60.0
    assert w.thermostat()


def two_days():
    cfg, errors = settings()
    assert not errors
    files = [os.path.join(TRACES, "batterysimu_ch_2025-01-%s.csv" % d) for d in ("08", "09")]
    return [rt.day_arrays(f) for f in files], cfg


def test_on_two_dull_days_the_sensor_gets_hot_water_by_18_and_the_others_compare():
    days, cfg = two_days()
    first = rt.SEQUENCES[0][1] + 2  # Wednesday 8 January 2025
    sensor = rt.run("sensor", days, first, cfg, 200)
    assert sensor["hot_by_met"] == 2 and sensor["grid_evening_kwh"] > 1
    assert sensor["grid_legionella_kwh"] == 0  # not due: the last cycle was the day before
    to_60 = rt.run("timer 16-18 h to 60 C", days, first, cfg, 200)
    assert to_60["grid_evening_kwh"] > sensor["grid_evening_kwh"]  # heating to 60 every day
    none = rt.run("surplus only", days, first, cfg, 200)
    assert none["grid_evening_kwh"] == 0 and none["hot_by_met"] < 2
    assert none["short_kwh"] > sensor["short_kwh"]


def test_a_legionella_cycle_falls_due_and_the_grid_finishes_it_in_its_window():
    days, cfg = two_days()
    first = rt.SEQUENCES[0][1] + 2
    # the last cycle 7 days before the first day: due at once, on a dull day
    water = rt.Water(200, thermostat_c=65.0)
    fw = rt.Sensor(cfg, water, first * 86400, first - 7)
    reasons = set()
    hot_at = None
    draw = 0.0
    for tod in range(86400):
        local = first * 86400 + tod
        on, reason = fw.step(local, local, draw - days[0][tod])
        draw = 2000.0 if on and water.thermostat() else 0.0
        water.advance(1, draw, tod)
        if on:
            reasons.add(reason)
        if hot_at is None and water.c >= 59.95:
            hot_at = tod
    assert "legionella" in reasons
    assert hot_at is not None and 12 * 3600 < hot_at <= 16 * 3600, hot_at
    assert fw.tank.plan.reached_day == first and fw.tank._day == first  # kept ("on flash")


def test_the_command_prints_the_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "tank.json"
    trace = os.path.join(TRACES, "batterysimu_ch_2025-01-08.csv")
    assert rt.main(["--trace", trace, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| batterysimu_ch | sensor |" in text and "| 45 C at 18:00 |" in text
    figures = json.loads(out.read_text())
    assert set(figures["batterysimu_ch"]) == set(rt.STRATEGIES)
