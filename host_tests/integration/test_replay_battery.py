# tools/bench/replay_battery.py: the battery model and the policies on a made-up day.
from tools.bench import replay_battery as rb
from tools.bench.replay import Day, settings


def test_the_store_absorbs_export_until_full_and_covers_import_until_its_reserve():
    s = rb.Store(capacity_wh=1000, max_w=3000, reserve_pct=20, soc_pct=50)
    assert s.response(-5000) == -3000  # its power limit
    assert s.response(800) == 800
    s.wh = 1000
    assert s.response(-500) == 0  # full
    s.wh = 200
    assert s.response(500) == 0  # at its reserve
    s.wh = 200.05
    assert abs(s.response(500) - 180) < 1e-6  # only what is left above it, this second


def day(tmp_path):
    # Morning sun with 3 kW of export, then a cloudy afternoon: 1.5 kW of PV for a 2 kW heater.
    rows = ["t_s,pv_w,load_w"]
    for t in range(0, 4 * 3600 + 1, 60):
        pv = 3500.0 if t < 2 * 3600 else 1500.0
        rows.append("%d,%.1f,%.1f" % (36000 + t, pv, 500.0))
    path = tmp_path / "made_up_2025-06-01.csv"
    path.write_text("\n".join(rows) + "\n")
    return Day(str(path))


def test_neither_policy_drains_the_battery_into_the_tank_and_the_unaware_firmware_does(tmp_path):
    cfg, errors = settings()
    assert not errors
    d = day(tmp_path)
    res = rb.replay([d], cfg, capacity_wh=5000, max_w=3840, reserve_pct=20, soc_pct=90)
    unaware, battery, heater = res["unaware"], res["battery"], res["heater"]
    assert unaware["drained_kwh"] > 1.0  # it heats from the battery all afternoon
    assert battery["drained_kwh"] < 0.05 and heater["drained_kwh"] < 0.05
    assert heater["tank_kwh"] >= battery["tank_kwh"] > 0.5
    assert res["no heater"]["tank_kwh"] == 0
    # Battery first leaves the battery as full as without a heater.
    assert abs(battery["left_kwh"] - res["no heater"]["left_kwh"]) < 0.05
    assert "drained from the battery" in rb.table(res, 1)
