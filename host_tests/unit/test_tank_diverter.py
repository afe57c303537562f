# A tank sensor in the real Diverter on a fake board (both runtimes): max_c stops diverting, the
# grid targets heat through the one output path, a failed sensor gives today's behaviour, the
# sensor beats the grid step's "tank hot" guess, the legionella record on flash, and what the
# console, diag, MQTT and Home Assistant show. Without a sensor nothing of it loads.
import json
import os
import sys

from support import ha_configs, joined, tmpdir
from tank_support import Captured, Script, having
from test_diverter import MIDNIGHT, FakeBoard, board_on

from firmware import config, mqtt, mqtt_ha, reports
from firmware import diverter as dv

TANK = {"pin": 4, "max_c": 60}


class TankBoard(FakeBoard):
    def __init__(self, driver):
        super().__init__()
        self.driver_for_tank = driver

    def tank_sensor(self, pin):
        self.tank_pin = pin
        return self.driver_for_tank

    def wifi_up(self):
        return True


def make(tank=TANK, c=50.0, output="relay", boost=None, folder=None):
    os.chdir(folder or tmpdir())
    raw = {
        "wifi": {"ssid": "x"},
        "enlighten": {"email": "a@b.c", "password": "p"},
        "envoy": {"host": "127.0.0.1:1", "pin": "off"},
        "heater": {"power_w": 2000, "relay_pin": 23, "output": output},
        "control": {"min_on_s": 0, "min_off_s": 0, "stop_delay_s": 0, "max_import_w": 200},
        "tank": tank,
    }
    if boost:
        raw["boost"] = boost
    cfg, errors, _ = config.validate(raw)
    assert not errors, errors
    drv = Script(c)
    board = TankBoard(drv)
    d = dv.Diverter(cfg, board)
    d.link.clock_ok = True
    return d, board, drv


def heated(house_w):
    """The grid as the house and the heater make it (the heater draws while the relay is on)."""
    return lambda board: house_w + (2000 if board.relay_on else 0)


def step(d, net, dt=1.0):
    """One pass, as Diverter.step does it without the network: a fresh reading net_w (a number,
    or a function of the board)."""
    board = d.board
    board.up += dt
    board.wall += dt
    d.link.reading.net_w = net(board) if callable(net) else net
    d.link.reading.fresh_at = board.up
    if d.tank:
        d.tank.poll(board.up, d.accounting.heater)
    d.accounting.observe(board.up, True)
    decision = d.act(board.up)
    assert (decision.power > 0) == board_on(d)
    return decision.reason


def steps(d, net, seconds):
    reason = None
    for _ in range(int(seconds)):
        reason = step(d, net)
    return reason


def test_without_a_sensor_no_tank_code_is_loaded_and_nothing_changes():
    for name in ("firmware.tank", "firmware.tank_rules", "firmware.tank_sim"):
        sys.modules.pop(name, None)
    d, board, drv = make(tank={})
    assert d.tank is None and drv.converts == 0
    assert "firmware.tank" not in sys.modules and "firmware.tank_rules" not in sys.modules
    steps(d, -3000, 3)
    assert board.relay_on
    s = d.status()
    assert s["tank_c"] is None and "tank_sensor" not in s
    assert "tank" not in reports.summary(s) and "tank" not in d.details()


def test_max_c_stops_diverting_and_it_resumes_under_the_hysteresis():
    d, board, drv = make(c=58.0)
    assert board.tank_pin == 4
    with Captured() as lines:
        steps(d, heated(-3000), 5)
        assert board.relay_on and d.status()["tank_c"] == 58.0
        drv.then(60.5)
        assert steps(d, heated(-3000), 12) == "tank-max"
        assert having(lines, "relay=off reason=tank-max tank_c=60.5 max_c=60"), lines
        drv.then(58.5)
        assert steps(d, heated(-3000), 12) == "tank-max"  # within the 2 K
        drv.then(57.9)
        steps(d, heated(-3000), 12)
        assert board.relay_on


def test_max_c_stops_the_burst_output_too():
    d, board, drv = make(output="burst", c=61.0)
    assert steps(d, -1000, 8) == "tank-max" and not board.relay_on
    assert d.output.power == 0


def test_a_remote_on_ends_at_max_c_and_one_at_the_board_does_not():
    # A command from afar (MQTT's mode=on) keeps the safety rules: a tank at max_c ends it,
    # relay or burst output. A person at the board (diag.on()) is obeyed.
    for output in ("relay", "burst"):
        d, board, drv = make(output=output, c=65.0)
        with Captured() as lines:
            assert steps(d, heated(-3000), 8) == "tank-max"  # the sensor read
            d.force_on(60, True)
            assert steps(d, heated(-3000), 3) == "tank-max" and not board.relay_on, output
            assert d.output.power == 0 and d.policy.mode == "auto"
        assert having(lines, "manual: the tank is at max_c; back to auto"), lines
    d, board, drv = make(c=65.0)
    steps(d, heated(-3000), 8)
    d.force_on(60)
    assert steps(d, heated(-3000), 3) == "manual-on" and board.relay_on


def test_a_failed_sensor_means_todays_behaviour():
    d, board, drv = make(c=61.0)
    assert steps(d, -3000, 8) == "tank-max"
    drv.then(Exception("CRC error"))
    with Captured() as lines:
        reason = steps(d, -3000, 10)
    assert reason in ("surplus", "diverting") and board.relay_on  # the thermostat decides
    assert len(having(lines, "tank: sensor failed on GPIO4 (CRC error)")) == 1
    s = d.status()
    assert s["tank_c"] is None and s["tank_sensor"] == "failed"
    assert s["tank_problem"] == "CRC error"
    assert "tank_c=- tank=failed" in reports.summary(s)


def evening(c=40.0, **extra):
    t = dict(TANK, min_c=45, hot_by="18:00", **extra)
    d, board, drv = make(t, c)
    board.wall = MIDNIGHT + 17 * 3600 + 30 * 60
    return d, board, drv


def test_the_evening_target_heats_from_the_grid_and_stops_at_min_c():
    d, board, drv = evening()
    with Captured() as lines:
        steps(d, 300, 3)  # the sensor's first readings
        assert steps(d, 300, 1) == "hot-by" and board.relay_on  # importing: only the target
        assert having(lines, "tank: hot-by: heating from the grid to 45 C by 18:00")
        assert having(lines, "relay=on reason=hot-by tank_c=40.0")
        assert steps(d, 2300, 10) == "hot-by" and d.accounting.heater.drawing is True
        drv.then(42.5, 45.1)  # the water warms (a jump over 5 K would be a failure)
        assert steps(d, 2300, 12) != "hot-by" and not board.relay_on
    assert having(lines, "tank: hot-by: done, tank_c=45.1 reached")
    assert d.accounting.energy.today_grid_wh > 0  # counted, as from the grid (shown per 50 Wh)


def test_a_sensor_failing_during_a_grid_target_switches_the_heater_off():
    d, board, drv = evening()
    assert steps(d, 300, 5) == "hot-by"
    drv.then(Exception("CRC error"))
    assert steps(d, 2300, 10) != "hot-by" and not board.relay_on  # never held ON by a sensor


def test_grid_targets_need_fresh_data():
    d, board, drv = evening()
    assert steps(d, 300, 5) == "hot-by"
    for _ in range(40):  # the Envoy goes silent: the reading ages
        board.up += 1
        board.wall += 1
        d.tank.poll(board.up, d.accounting.heater)
        reason = d.act(board.up).reason
    assert reason == "stale" and not board.relay_on


def test_a_hot_enough_tank_needs_no_kwh_boost():
    boost = {"min_kwh": 2, "window": "17:00-19:00"}
    d, board, drv = make(dict(TANK, min_c=45, hot_by="20:00"), 47.0, boost=boost)
    board.wall = MIDNIGHT + 17 * 3600 - 10
    steps(d, 300, 10)  # the sensor reads before the window opens
    assert steps(d, 300, 5) == "low-export" and not board.relay_on
    drv.then(44.0)  # a shower: the boost heats again, as far as needed
    assert steps(d, heated(300), 12) == "boost"


def test_the_sensor_beats_a_wrong_tank_hot_guess():
    d, board, drv = make(c=35.0)
    with Captured() as lines:
        steps(d, -2500, 3)
        assert board.relay_on
        # the sun rises by the heater's power as the relay closes: the grid barely moves
        steps(d, -2400, 25)  # a late step is waited for up to 20 s (heater.py)
    h = d.accounting.heater
    assert h.drawing is True, lines
    assert having(lines, "heater: the step said tank hot (step_w=100) but tank_c=35.0")
    assert not having(lines, "heater: tank hot (thermostat open)")
    assert d.status()["heater"] == "heating"


def test_a_hot_tank_confirms_the_guess():
    d, board, drv = make(c=58.0)
    with Captured() as lines:
        steps(d, -2500, 3)
        steps(d, -2400, 25)  # a late step is waited for up to 20 s (heater.py)
    assert d.accounting.heater.drawing is False
    assert having(lines, "heater: tank hot (thermostat open)")


def test_an_overruled_guess_is_accepted_when_the_tank_does_not_warm():
    d, board, drv = make(c=35.0)
    with Captured() as lines:
        steps(d, -2500, 3)
        steps(d, -2400, 25)  # a late step is waited for up to 20 s (heater.py)
        assert d.accounting.heater.drawing is True
        steps(d, -2400, 1201)  # 20 minutes, and the water did not warm: the cut-out is open
    assert d.accounting.heater.drawing is False
    assert having(lines, "heater: tank_c=35.0 did not rise in 20 min")


def test_legionella_is_recorded_once_and_read_back_after_a_restart():
    t = dict(TANK, legionella_c=60, legionella_window="12:00-16:00")
    folder = tmpdir()
    d, board, drv = make(t, 61.0, folder=folder)
    steps(d, -3000, 5)
    with open(folder + "/tank.json") as f:
        day = json.load(f)["legionella_day"]
    assert day == (board.wall // 86400)
    mtime = os.stat(folder + "/tank.json")[8]
    d2, board2, drv2 = make(t, 50.0, folder=folder)
    assert d2.tank.plan.reached_day == day
    board2.wall = MIDNIGHT + 15 * 3600
    assert steps(d2, 300, 5) == "low-export"  # not due: no grid cycle
    assert os.stat(folder + "/tank.json")[8] == mtime


def test_a_damaged_record_is_said_and_a_cycle_is_due():
    folder = tmpdir()
    with open(folder + "/tank.json", "w") as f:
        f.write('{"legionella_day": "yesterday"}')
    t = dict(TANK, legionella_c=60, legionella_window="12:00-16:00")
    d, board, drv = make(t, 50.0, folder=folder)
    assert d.tank.plan.reached_day is None
    board.wall = MIDNIGHT + 15 * 3600
    assert steps(d, 300, 5) == "legionella"


def test_status_summary_diag_and_mqtt_show_the_tank():
    t = dict(TANK, min_c=45, hot_by="18:00", legionella_c=60, legionella_window="12:00-16:00")
    d, board, drv = make(t, 52.34)
    steps(d, -500, 5)
    s = d.status()
    assert s["tank_c"] == 52.3 and s["tank_sensor"] == "ok" and s["tank_problem"] is None
    assert " tank_c=52.3" in reports.summary(s)
    x = d.details()["tank"]
    assert "tank_c=52.3 sensor=ok on GPIO4 rom=2872" in x, x
    assert "max_c=60; min_c=45 by 18:00; legionella_c=60 in 12:00-16:00, due now" in x, x
    state = {k: s[k] for k in mqtt.STATE if k in s}
    assert state["tank_c"] == 52.3


def offered(d):
    return mqtt_ha.offered(d.cfg, d.link.reading)


def test_home_assistant_gets_a_temperature_sensor_only_with_a_sensor():
    with_tank = dict(ha_configs("ha", "b", "u", offered(make(TANK)[0])))
    c = json.loads(joined(with_tank["ha/sensor/u/tank_c/config"]))
    assert c["dev_cla"] == "temperature" and c["unit_of_meas"] == "\u00b0C"
    assert c["stat_cla"] == "measurement" and c["val_tpl"] == "{{value_json.tank_c}}"
    without = dict(ha_configs("ha", "b", "u", offered(make(tank={})[0])))
    assert without["ha/sensor/u/tank_c/config"] == b""  # removed from Home Assistant
