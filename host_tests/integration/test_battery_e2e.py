# The real firmware (main.py under the micropython binary) on a battery site: the simulated Envoy
# serves a capture with a storage CT and IQ Batteries, and its battery works in self-consumption
# mode (absorbs export until full, covers import until its reserve).
import pytest

from tools.sim import SimBattery, Simulation

SIM_SPEED = 10  # a minute passes in 6 s
FOLDER = "8.2.4286_with_3cts_and_battery_split"
HOUSE_W = 400
HEATER_W = 2000


@pytest.fixture
def sim(pki_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Simulation(FOLDER, pki_dir=pki_dir, speed=SIM_SPEED).start()
    yield s
    s.stop()


def site(sim, pv_w, soc_pct):
    """pv: a one-item list the test changes; the house draws HOUSE_W, and the heater when on."""
    sim.envoy.battery = battery = SimBattery(capacity_wh=10000, soc_pct=soc_pct)
    sim.envoy.live = lambda t: (
        pv_w[0],
        HOUSE_W - pv_w[0] + (HEATER_W if sim.relay_on() else 0),
    )
    return battery


def test_battery_first_keeps_the_heater_off_while_it_charges_or_discharges(sim, board):
    pv = [3000.0]
    battery = site(sim, pv, soc_pct=60)
    b = board(sim.config(battery={"priority": "battery"}))
    b.wait_for("battery: 25000 Wh, power from storage CT eid 704643840; priority=battery", 30)
    # The battery takes the 2.6 kW of export: nothing for the heater.
    b.wait_for("reason=battery-charging", 30)
    assert b.count("relay=on") == 0 and battery.w < -2000
    # Full: the export shows on the grid and goes to the heater.
    battery.wh = battery.capacity_wh
    line = b.wait_for("relay=on reason=surplus", 30)
    assert "battery_w=0" in line
    # A cloud: the battery starts covering the heater; the heater stops, in battery terms.
    pv[0] = 0.0
    n = len(b.lines)
    line = b.wait_for("relay=off reason=battery-discharging", 30, after=n)
    assert "battery_w=2400" in line
    drained = battery.discharged_wh
    b.wait_for("summary", 15, after=len(b.lines))
    b.wait_for("summary", 15, after=len(b.lines))
    assert b.count("relay=on") == 1, "the heater came back on while the battery discharged"
    assert battery.w == HOUSE_W  # covering the house alone
    # What the heater drew from the battery: at most min_on_s (10 s) and a few polls.
    assert drained < (HOUSE_W + HEATER_W) * 20 / 3600


def test_heater_first_starts_while_the_battery_still_charges(sim, board):
    pv = [3000.0]
    battery = site(sim, pv, soc_pct=45)
    b = board(sim.config(battery={"priority": "heater", "min_soc": 50}))
    b.wait_for(
        "battery: 25000 Wh, power from storage CT eid 704643840; priority=heater min_soc=50%", 30
    )
    b.wait_for("reason=battery-charging", 30)  # under min_soc: battery first
    assert b.count("relay=on") == 0
    battery.wh = 0.8 * battery.capacity_wh
    b.wait_for("battery: soc=80% min_soc=50%: heater first", 20)
    line = b.wait_for("relay=on reason=surplus", 30)
    assert "battery_w=-2600" in line
    b.wait_for("heater: heating", 20)
    assert battery.soc < 99 and battery.w < 0  # the battery still charges (with the rest)
    n = len(b.lines)
    b.wait_for("summary", 15, after=n)
    b.wait_for("summary", 15, after=len(b.lines))
    assert not [x for x in b.lines[n:] if "relay=off" in x and "summary" not in x]
    assert battery.discharged_wh < 1  # never from the battery


def test_a_full_battery_leaves_the_export_to_the_heater_in_heater_first_too(sim, board):
    pv = [3000.0]
    battery = site(sim, pv, soc_pct=100)
    b = board(sim.config(battery={"priority": "heater"}))
    b.wait_for("relay=on reason=surplus", 40)
    b.wait_for("heater: heating", 20)  # the heater's step is seen on the grid and battery
    assert battery.w == 0 and battery.discharged_wh < 1


def test_missing_battery_data_means_battery_first_with_a_margin(sim, board):
    pv = [3000.0]
    battery = site(sim, pv, soc_pct=100)
    b = board(sim.config(battery={"priority": "heater"}))
    b.wait_for("relay=on reason=surplus", 40)
    one_meter = sim.envoy._one_meter

    def no_storage(h, path):  # the storage CT stops answering
        if path.endswith("/704643840"):
            return h.reply(404, '{"error": "404 - Not Found"}')
        return one_meter(h, path)

    sim.envoy._one_meter = no_storage
    line = b.wait_for("battery: battery power", 30)
    assert "battery first with a 300 W margin" in line
    b.wait_for("battery=battery-power", 20)  # the summary says so too
    assert b.count("relay=off reason=") == 0  # the grid still shows 600 W of export
    pv[0] = 1500.0  # the battery starts covering the heater: the grid reads 0
    b.wait_for("relay=off reason=battery-no-data", 30)
    assert battery.discharged_wh < (HOUSE_W + HEATER_W) * 20 / 3600
    sim.envoy._one_meter = one_meter
    b.wait_for("battery: data again from", 30)
