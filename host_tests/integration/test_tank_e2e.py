# A tank sensor end to end: the real main.py under micropython on the simulated board, whose
# DS18B20 (firmware/tank_sim.py) reads the file `tank` in the board's sim folder. A small tank
# model here heats while the simulated relay is on and writes that file, so the firmware's grid
# targets heat a tank that really warms; faults are written in its place.
import json
import os

import pytest

from firmware import clock
from tools.sim import Simulation

SIM_SPEED = 10  # a minute passes in 6 s
DAY = clock.days_from_civil(2026, 1, 15) * 86400  # a Thursday, UTC (the config's zone)
HEATER_W = 2000.0


class TankModel:
    """A fully mixed tank of `litres` heated by the heater while the relay is on; what the
    simulated sensor reads is written to the board's sim folder (atomically)."""

    def __init__(self, sim, folder, c, litres):
        self.sim = sim
        self.path = os.path.join(str(folder), "tank")
        self.c = c
        self.litres = litres
        self.fault = None  # written instead of the temperature: "missing", "crc", "85" ...
        self.at = None
        self.write()

    def write(self):
        with open(self.path + ".tmp", "w") as f:
            f.write(self.fault or "%.4f" % self.c)
        os.replace(self.path + ".tmp", self.path)

    def live(self, pv_w, house_w):
        """The Envoy's live function: PV and the house, the heater while on; the tank warms."""

        def at(t):
            on = self.sim.relay_on()
            if self.at is not None and on:
                self.c += HEATER_W * (t - self.at) / (self.litres * 1.163 * 3600)
            self.at = t
            self.write()
            return pv_w, house_w + (HEATER_W if on else 0.0)

        return at


@pytest.fixture
def sim(pki_dir, tmp_path, monkeypatch, request):
    """conftest's simulation, at the local time of day the test names in AT (else now)."""
    monkeypatch.chdir(tmp_path)
    at = AT.get(request.function.__name__)
    start = None if at is None else DAY + at[0] * 3600 + at[1] * 60
    s = Simulation(pki_dir=pki_dir, speed=SIM_SPEED, start=start).start()
    yield s
    s.stop()


AT = {}  # test name -> (hour, minute) of DAY at which its simulation starts


def switched_on(b):
    return sum(1 for x in b.lines if " relay=on reason=" in x and " summary " not in x)


def switched_off(b):
    return sum(1 for x in b.lines if " relay=off reason=" in x and " summary " not in x)


def tank_config(sim, **tank):
    return sim.config(tank=dict({"pin": 4}, **tank))


def test_max_c_stops_diverting_and_a_failed_sensor_falls_back_to_the_thermostat(sim, board):
    b = board(tank_config(sim, max_c=60))
    tank = TankModel(sim, b.simdir, 58.0, 200)
    sim.envoy.live = tank.live(3000, -2600)
    b.wait_for("relay=on reason=surplus", 40)
    b.wait_for("summary", 80)
    assert " tank_c=58." in b.wait_for("summary", 80)
    tank.c = 60.5
    b.wait_for("relay=off reason=tank-max tank_c=60.5 max_c=60", 30)
    n = len(b.lines)
    tank.fault = "missing"  # unplugged
    line = b.wait_for("tank: sensor failed on GPIO4", 30, after=n)
    assert "no device answers on the bus: check the wiring and the 4.7 kOhm pull-up" in line
    assert "the thermostat and the learned heater power decide, as without a sensor" in line
    b.wait_for("relay=on reason=surplus", 40, after=n)  # today's behaviour: surplus diverts
    assert "tank_c=- tank=failed" in b.wait_for("summary", 80, after=n)
    assert b.count("tank: sensor failed") == 1  # said once, tried again every 30 s
    tank.fault, tank.c = None, 55.0
    b.wait_for("ok: recovered (tank sensor: tank_c=55.0)", 60, after=n)
    assert b.count("Traceback") == 0


@pytest.mark.parametrize(
    "fault, said",
    [
        ("crc", "(CRC error)"),
        ("85", "(85.0 C, its power-on value: no conversion was made"),
        ("-127", "(-127.0 C is out of range (1 to 100 C))"),
        ("0", "(0.0 C is out of range (1 to 100 C))"),
        ("75", "(a jump from 50.0 to 75.0 C in"),
    ],
)
def test_each_bad_reading_is_a_failed_sensor_then_a_recovery(sim, board, fault, said):
    b = board(tank_config(sim, max_c=60))
    tank = TankModel(sim, b.simdir, 50.0, 200)
    sim.envoy.live = tank.live(3000, -2600)
    b.wait_for("relay=on reason=surplus", 40)
    tank.fault = fault
    line = b.wait_for("tank: sensor failed on GPIO4", 30)
    assert said in line, line
    tank.fault = None
    b.wait_for("ok: recovered (tank sensor: tank_c=5", 60)  # 50 C and warming
    assert switched_off(b) == 0  # the heater went on diverting: the thermostat decides


def test_hot_water_by_evening_from_the_grid_only_as_far_as_needed(sim, board):
    # 30 litres so that the test heats in minutes: 5 K take 5 simulated minutes
    b = board(tank_config(sim, max_c=60, min_c=45, hot_by="18:00", litres=30))
    tank = TankModel(sim, b.simdir, 40.0, 30)
    sim.envoy.live = tank.live(0, 300)  # evening: no sun, the house imports
    b.wait_for("summary", 60)
    assert switched_on(b) == 0  # 17:37: 5 K in 30 litres take 21 minutes with the margin
    line = b.wait_for("tank: hot-by: heating from the grid to 45 C by 18:00", 60)
    assert "tank_c=40.0, about 21 min" in line and line.startswith("17:39:")
    b.wait_for("relay=on reason=hot-by tank_c=40.0", 30)
    b.wait_for("heater: heating", 30)
    done = b.wait_for("tank: hot-by: done, tank_c=45.", 120)
    assert 45.0 <= tank.c < 45.6, tank.c  # to min_c, not beyond
    b.wait_for("relay=off reason=import", 30)
    assert switched_on(b) == 1, "one top-up an evening"
    assert done


AT["test_hot_water_by_evening_from_the_grid_only_as_far_as_needed"] = (17, 36)


def test_a_legionella_cycle_finishes_from_the_grid_and_is_remembered(sim, board):
    cfg = tank_config(sim, max_c=55, legionella_c=60, legionella_window="15:00-16:00", litres=30)
    b = board(cfg)
    tank = TankModel(sim, b.simdir, 54.0, 30)
    sim.envoy.live = tank.live(0, 300)
    b.wait_for("tank: legionella: heating from the grid to 60 C by 16:00", 60)
    b.wait_for("relay=on reason=legionella", 30)
    line = b.wait_for("tank: legionella_c=60 reached", 150)
    assert "the next cycle is due in 7 days" in line
    b.wait_for("relay=off", 30)
    record = json.loads((b.dir / "tank.json").read_text())
    assert record == {"legionella_day": DAY // 86400}
    mtime = os.stat(b.dir / "tank.json").st_mtime
    b.stop()

    again = board(cfg, fresh=False)
    again.wait_for("summary", 90)
    assert again.count("tank: legionella:") == 0 and switched_on(again) == 0
    assert os.stat(again.dir / "tank.json").st_mtime == mtime  # written on change only


AT["test_a_legionella_cycle_finishes_from_the_grid_and_is_remembered"] = (15, 30)


def test_without_a_sensor_nothing_of_it_shows(sim, board):
    sim.envoy.live = sim.steady(3000, -2600)
    b = board()
    b.wait_for("relay=on reason=surplus", 40)
    assert " tank" not in b.wait_for("summary", 80)
    assert b.count("tank") == 0


def test_home_assistant_gets_the_tank_temperature(sim, board):
    from tools.sim.broker import Broker

    br = Broker().start()
    try:
        uid = "diverter_5e0000d1e5e1"
        w = br.watch()
        cfg = tank_config(sim, max_c=60)
        cfg["mqtt"] = {"host": "127.0.0.1", "port": br.port, "interval_s": 5}
        b = board(cfg)
        tank = TankModel(sim, b.simdir, 52.0, 200000)  # a tank that does not warm here
        sim.envoy.live = tank.live(3000, -2600)
        b.wait_for("mqtt: connected", 40)
        topic = "homeassistant/sensor/%s/tank_c/config" % uid
        r, t, p = w.wait(lambda r, t, p: t == topic and p, 30)
        c = json.loads(p)
        assert c["dev_cla"] == "temperature" and c["unit_of_meas"] == "\u00b0C"
        assert c["val_tpl"] == "{{value_json.tank_c}}" and c["stat_cla"] == "measurement"
        r, t, p = w.wait(lambda r, t, p: t == uid + "/state" and json.loads(p)["tank_c"], 30)
        assert json.loads(p)["tank_c"] == 52.0
    finally:
        br.stop()
