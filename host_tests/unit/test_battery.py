# battery.py: the Envoy's battery replies from the captures, and the policy that turns grid,
# battery power and SoC into the grid figure the rules see (runs under CPython and MicroPython).
import json

from support import fixture, raises

from firmware import battery as bt
from firmware import ensemble as en
from firmware import envoy_json as ej
from firmware import envoy_setup as es
from firmware import link, policy
from firmware.control import Control
from firmware.heater import Heater

CT_SPLIT = "8.2.4286_with_3cts_and_battery_split"
DISAGREE = "8.2.127_with_3cts_and_battery_split"
COLLAR = "8.3.1598_collar"
NO_CT = "7.6.185_with_cts_and_battery_3t"
ACB_AND_IQ = "8.2.4382_ACB"
ACB = "8.2.4382_ACB_2"
ACB_INVENTORY = "8.3.5169_ACB_inventory"
NONE = "8.2.4345_with_device_data"  # an Enpower, no battery
STORAGE_EID = 704643840


def load(folder, name):
    body = fixture(folder, name)
    return None if body is None else json.loads(body)


def watts(folder, kind):
    eids = {m["measurementType"]: m["eid"] for m in load(folder, "ivp_meters")}
    return ej.reading(load(folder, "ivp_meters_readings"), eids[kind])[0]


def encharge_count(inventory):
    return sum(len(k["devices"]) for k in inventory if k["type"] == "ENCHARGE")


# -- the replies ---------------------------------------------------------------------------------


def raw(folder, name):
    body = fixture(folder, name)
    return body, len(body)


def scan(obj):
    body = json.dumps(obj).encode()
    return body, len(body)


def test_ensemble_power_has_a_colon_in_its_key_and_can_be_empty():
    assert b'"devices:"' in fixture(CT_SPLIT, "ivp_ensemble_power")
    assert bt.ensemble_power(*raw(CT_SPLIT, "ivp_ensemble_power")) == -6592  # 5 charging
    assert bt.ensemble_power(*raw(NO_CT, "ivp_ensemble_power")) == 0  # one at its reserve
    assert bt.ensemble_power(*raw(ACB_AND_IQ, "ivp_ensemble_power")) == 105  # discharging
    assert bt.ensemble_power(*raw(NONE, "ivp_ensemble_power")) is None  # "devices:": []
    assert bt.ensemble_power(*raw(ACB_INVENTORY, "ivp_ensemble_power")) is None
    for folder in (CT_SPLIT, NO_CT, ACB_AND_IQ, NONE, ACB_INVENTORY, COLLAR, DISAGREE):
        obj = load(folder, "ivp_ensemble_power")  # the same as from the parsed reply
        want = sum(d["real_power_mw"] for d in obj["devices:"])
        got = bt.ensemble_power(*raw(folder, "ivp_ensemble_power"))
        assert got == (int(round(want / 1000)) if obj["devices:"] else None), folder
    assert bt.ensemble_power(*scan({"devices": [{"real_power_mw": 1500}]})) is None  # no colon
    assert bt.ensemble_power(b'{"devices:" : [ ] }', 19) is None
    for junk in ({"devices:": [{"real_power_mw": True}]}, {"devices:": [1]}):
        raises(ValueError, bt.ensemble_power, *scan(junk))
    body = b'{"devices:": [{"real_power_mw": -1500}, {"real_power_mw": 2500}]}'
    assert bt.ensemble_power(body, len(body)) == 1


def test_the_power_list_names_the_batteries_the_inventory_does():
    # Setup reads /ivp/ensemble/power (< 1 KB) instead of the inventory (up to 7 KB).
    for folder in (CT_SPLIT, DISAGREE, COLLAR, NO_CT, ACB_AND_IQ, ACB_INVENTORY, NONE):
        devices = load(folder, "ivp_ensemble_power")["devices:"]
        assert len(devices) == encharge_count(load(folder, "ivp_ensemble_inventory")), folder
        has = en.has_items(*raw(folder, "ivp_ensemble_power"), b'"devices:"')
        assert has == (len(devices) > 0), folder
    assert load(NONE, "ivp_ensemble_inventory")[0]["type"] == "ENCHARGE"  # ...with no devices
    assert load(ACB, "ivp_ensemble_inventory") == []


def test_secctrl_gives_soc_reserve_and_capacity():
    assert bt.soc_reserve(*raw(CT_SPLIT, "ivp_ensemble_secctrl")) == (46, 100)
    assert bt.soc_reserve(*raw(DISAGREE, "ivp_ensemble_secctrl")) == (21, 20)
    assert bt.soc_reserve(*raw(NO_CT, "ivp_ensemble_secctrl")) == (15, 15)
    assert bt.soc_reserve(*raw(ACB_AND_IQ, "ivp_ensemble_secctrl"))[0] == 39  # IQ 54 % + ACB 25 %
    assert bt.soc_reserve(*scan({"agg_soc": 101, "adjusted_backup_soc": "x"})) == (None, None)
    assert bt.soc_reserve(*scan({"ENC_agg_soc": 5, "agg_soc": 7})) == (7, None)  # its own name
    assert bt.soc_reserve(*scan([])) == (None, None)
    # Detection: any commissioned capacity; none on a site with only an Enpower.
    assert en.capacity(*raw(CT_SPLIT, "ivp_ensemble_secctrl")) == 25000
    assert en.capacity(*raw(NONE, "ivp_ensemble_secctrl")) is None
    assert en.capacity(*raw(ACB, "ivp_ensemble_secctrl")) == 412
    assert en.capacity(*raw(ACB_INVENTORY, "ivp_ensemble_secctrl")) == 2480
    assert en.capacity(*scan({"Max_energy": 1e99})) is None
    assert en.capacity(*scan({"Max_energy": "25000"})) is None
    assert en.capacity(b'{"Max_energy" :\n 7}', 19) == 7


def acb(folder):
    # production.json storage[]: the legacy AC Batteries' only power figure.
    for s in load(folder, "production.json")["storage"]:
        if s["type"] == "acb" and s["activeCount"] > 0:
            return s
    return None


def test_acb_only_reports_in_production_json_and_too_slowly():
    for folder, w, pct in ((ACB, 0, 18), (ACB_INVENTORY, -2, 1), (ACB_AND_IQ, 260, 25)):
        s = acb(folder)
        assert (s["wNow"], s["percentFull"]) == (w, pct), folder
    assert acb(ACB_AND_IQ)["state"] == "discharging"  # + discharging, as the other figures
    assert acb(CT_SPLIT) is None  # IQ systems list an idle entry with activeCount 0
    # Its readingTime is 41 hours older than the meters' (and 6 min in 8.3.5169): too slow to
    # steer a heater. So the firmware finds the battery (secctrl) but no live figure, and runs
    # such a site as "battery data missing": battery first with a margin.
    meters = load(ACB_AND_IQ, "ivp_meters_readings")[0]["timestamp"]
    assert meters - acb(ACB_AND_IQ)["readingTime"] > 40 * 3600
    assert en.capacity(*raw(ACB, "ivp_ensemble_secctrl")) == 412
    assert bt.soc_reserve(*raw(ACB, "ivp_ensemble_secctrl"))[0] == 18  # agg_soc counts the ACB


def test_storage_ct_sign_and_where_it_is_found():
    meters = load(CT_SPLIT, "ivp_meters")
    assert es.storage_eid(meters) == STORAGE_EID
    assert es.storage_eid(load(NO_CT, "ivp_meters")) is None
    assert es.storage_eid(load(COLLAR, "ivp_meters")) == STORAGE_EID
    # Charging is negative: load = PV + grid + storage is about 1.8 kW here.
    load_w = watts(CT_SPLIT, "production") + watts(CT_SPLIT, "net-consumption")
    load_w += watts(CT_SPLIT, "storage")
    assert 1700 < load_w < 1900


def test_the_ct_and_the_ensemble_disagree_and_the_ct_wins():
    ct = watts(DISAGREE, "storage")
    ensemble = bt.ensemble_power(*raw(DISAGREE, "ivp_ensemble_power"))
    assert int(ct) == -2579 and ensemble == -641  # the same second (timestamp 1709829517)
    # With the CT the house would draw a negative load; with the ensemble about 1.2 kW.
    pv, grid = watts(DISAGREE, "production"), watts(DISAGREE, "net-consumption")
    assert pv + grid + ct < 0 < pv + grid + ensemble
    # The firmware still reads the CT (the same 1-s snapshot as the grid CT); its error is on
    # the charging side, which battery first ignores and heater first can only over-credit
    # until the heater's own draw shows as discharge.
    assert es.storage_eid(load(DISAGREE, "ivp_meters")) == STORAGE_EID


def test_total_consumption_ignores_the_battery():
    report = load(CT_SPLIT, "production.json")
    total = [c for c in report["consumption"] if c["measurementType"] == "total-consumption"][0]
    net = [c for c in report["consumption"] if c["measurementType"] == "net-consumption"][0]
    pv = [p for p in report["production"] if p["type"] == "eim"][0]
    assert abs(total["wNow"] - (pv["wNow"] + net["wNow"])) < 1  # production + net, no battery
    assert total["wNow"] > 8000  # while the house drew about 1.8 kW
    # So the plan never takes total-consumption where a net CT exists.
    assert es.plan_from_meters(load(CT_SPLIT, "ivp_meters"))[0] == "net"


# -- the policy ----------------------------------------------------------------------------------

X = 300


def battery(priority="battery", min_soc=50, w=0, soc=80, reserve=20):
    b = bt.Battery({"priority": priority, "min_soc": min_soc}, X, 30, "test")
    b.power(0, w)
    b.charge(soc, reserve)
    b.notes = []
    return b


def test_battery_first_counts_only_real_export():
    assert battery(w=-2000).adjust(1, 0) == X  # the battery takes the export: none for heat
    assert battery(w=0).adjust(1, -2500) == -2500 + X  # a full battery: the export is surplus
    assert battery(w=1450).adjust(1, 0) == 1450 + 2 * X  # discharge is import, past X


def test_heater_first_takes_the_charging_power_above_min_soc():
    assert battery("heater", w=-2500).adjust(1, 0) == -2500 + X
    assert battery("heater", w=1450).adjust(1, 0) == 1450 + 2 * X  # discharge: never surplus
    b = battery("heater", soc=52)
    assert not b.heater_first  # not min_soc + 5 yet
    b.charge(55, 20)
    assert b.heater_first and b.notes
    b.charge(50, 20)
    assert b.heater_first  # hysteresis
    b.charge(49, 20)
    assert not b.heater_first
    b.power(2, -2500)
    assert b.adjust(2, 0) == X  # battery first again
    b.charge(None, None)
    assert not b.heater_first


def test_at_its_reserve_the_grid_allowance_applies_again():
    assert battery(w=0, soc=20, reserve=20).adjust(1, 400) == 400
    assert battery(w=0, soc=21, reserve=20).adjust(1, 400) == 400 + X


def test_missing_or_stale_battery_data_means_battery_first_with_a_margin():
    b = bt.Battery({"priority": "heater", "min_soc": 0}, X, 30, "storage CT eid 7")
    b.notes = []
    assert b.adjust(1, -3000) == -3000 + 2 * X + bt.MARGIN_W
    assert b.missing == "no battery power" and "300 W margin" in b.notes[0]
    b.power(2, -2000)
    b.charge(90, 10)
    assert b.adjust(3, 0) == -2000 + X and b.missing is None
    assert b.adjust(40, 0) == 2 * X + bt.MARGIN_W and b.missing == "battery power 38s old"
    assert b.reason(False, "low-export") == bt.NO_DATA
    assert b.describe("usable_w=0") == "usable_w=0 battery=battery-power-38s-old"
    assert b.status(40)["battery_w"] is None and b.status(40)["battery_problem"]


def test_reasons_in_battery_terms():
    b = battery(w=1450, soc=62)
    assert b.reason(False, "import") == bt.DISCHARGING
    assert b.reason(True, "min-on") == "min-on"
    assert b.reason(False, "min-off") == "min-off"
    b.adjust(1, 0)
    assert b.describe("") == "battery_w=1450 soc=62 grid_w=0"
    assert battery(w=-900).reason(False, "low-export") == bt.CHARGING
    assert battery("heater", w=-900).reason(False, "low-export") == "low-export"
    assert battery(w=10).reason(False, "low-export") == "low-export"  # idle


def _policy_case(priority, grid, w, soc=80):
    c = {
        "max_import_w": X,
        "start_delay_s": 0,
        "stop_delay_s": 0,
        "min_on_s": 0,
        "min_off_s": 0,
        "stale_s": 30,
    }
    p = policy.Policy(Control(c, -100))
    r = link.Reading()
    r.net_w, r.fresh_at = grid, 0
    r.battery = battery(priority, w=w, soc=soc)
    return p, r


def test_the_policy_feeds_the_rules_the_adjusted_grid():
    heater = Heater(2000)
    # Heater ON, the battery covering 1450 W of it: the grid reads 0, the heater stops.
    p, r = _policy_case("battery", 0, 1450)
    d = p.decide(1, r, True, heater)
    assert (d.power, d.reason) == (0, bt.DISCHARGING)
    assert "battery_w=1450" in d.detail
    # Heater first, the battery charging with 2.5 kW: the heater starts.
    p, r = _policy_case("heater", 0, -2500)
    d = p.decide(1, r, False, heater)
    assert (d.power, d.reason) == (1, "surplus")
    # Battery first, the same: the battery goes first.
    p, r = _policy_case("battery", 0, -2500)
    d = p.decide(1, r, False, heater)
    assert (d.power, d.reason) == (0, bt.CHARGING)
    # A full battery: the export goes to the heater in both modes.
    for mode in ("battery", "heater"):
        p, r = _policy_case(mode, -2600, 0, soc=100)
        assert p.decide(1, r, False, heater).power == 1
    # The house's net power (for the heater model) adds the battery back.
    p, r = _policy_case("battery", 0, 1450)
    assert r.house_w == 1450
    r.battery = None
    assert r.house_w == 0


def test_the_status_snapshot_and_the_summary_carry_the_battery():
    from test_diverter import diverter

    from firmware import reports

    d, board = diverter()
    s = d.status()
    assert "battery_w" not in s and "battery" not in reports.summary(s)  # no battery: as before
    r = d.link.reading
    r.net_w, r.fresh_at = 0, board.up
    r.battery = battery(w=-1200, soc=64)
    s = d.status()
    assert (s["battery_w"], s["battery_soc"], s["battery_problem"]) == (-1200, 64, None)
    assert s["battery_first"] == "battery"
    assert reports.summary(s).endswith(" battery_w=-1200 soc=64")
    board.up += 60  # no battery figure for a minute: missing
    r.battery.adjust(board.up, 0)
    s = d.status()
    assert s["battery_w"] is None and s["battery_problem"] == "battery power 60s old"
    assert reports.summary(s).endswith(" battery_w=- soc=64 battery=battery-power-60s-old")


def test_a_battery_that_goes_away_is_forgotten():
    from test_diverter import diverter

    d, board = diverter()
    en.found(d.link, "10000 Wh, power from storage CT eid 7")
    b = d.link.reading.battery
    assert b.priority == "battery" and b.source.startswith("10000 Wh")
    en.found(d.link, "10000 Wh, power from storage CT eid 7")
    assert d.link.reading.battery is b  # the same battery at a reconnection: kept
    for _ in range(en.FORGET_LOOKS):  # the Envoy's replies show none, look after look
        assert d.link.reading.battery is b
        en.unseen(d.link, True)
    assert d.link.reading.battery is None
    import sys

    assert "firmware.battery" not in sys.modules
    sys.modules["firmware.battery"] = bt  # for the tests that follow


def test_without_a_grid_reading_the_rules_speak_not_the_battery():
    heater = Heater(2000)
    p, r = _policy_case("battery", 0, 1450)
    r.fresh_at = None  # the link lost the data (its problem line says why)
    r.battery = bt.Battery({"priority": "battery", "min_soc": 50}, X, 30, "test")
    d = p.decide(100, r, False, heater)
    assert (d.power, d.reason) == (0, "no-data") and "battery" not in d.detail
    assert p.notes == [] and r.battery.missing is None


def test_the_burst_output_never_takes_the_battery_either():
    from test_diverter import apply, diverter, reading

    d, board = diverter(output="burst")
    d.link.reading.battery = b = battery("heater", w=-2600, soc=80)
    for _ in range(12):  # heater first: the battery charges with 2.6 kW, the grid reads 0
        board.up += 1
        b.power(board.up, -2600 + 2000 * d.output.power)
        reading(d, board, 0)
        on, reason = apply(d)
    assert on and reason == "surplus" and d.output.power > 0.9
    for _ in range(3):  # a cloud: the battery covers the heater, the grid still reads 0
        board.up += 1
        b.power(board.up, 1400)
        reading(d, board, 0)
        on, reason = apply(d)
    assert not on and reason == bt.DISCHARGING and d.output.power == 0
