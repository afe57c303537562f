# envoy_parse.py against every captured Envoy (runs under CPython and MicroPython).
import json

from envoy_cases import EXPECTED
from support import contains, fixture, fixture_folders, raises

from firmware import envoy_parse as ep


def load(folder, name):
    body = fixture(folder, name)
    if body is None:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body  # not JSON: HTML page or plain text


def net_of(folder):
    """The client's path: /ivp/meters when it is a meter list, else production.json."""
    meters = load(folder, "ivp_meters")
    if type(meters) is list:
        plan = ep.plan_from_meters(meters)
        return ep.net_from_readings(plan, load(folder, "ivp_meters_readings"))[0]
    report = load(folder, "production.json")
    if type(report) is not dict:
        raise ep.NoNetPower(ep.NO_CT + " (production.json is an HTML page on this firmware)")
    return ep.net_from_production(report)[0]


def test_every_folder_has_an_expectation():
    assert sorted(EXPECTED) == fixture_folders()


def test_every_folder_gives_its_net_power_or_reason():
    for folder in fixture_folders():
        want = EXPECTED[folder]
        if type(want) is int:
            got = net_of(folder)
            assert got == want, "%s: got %r, want %r" % (folder, got, want)
        else:
            e = raises(ep.NoNetPower, net_of, folder)
            contains(str(e), ep.NO_CT)
            contains(str(e), want)


def test_info_gives_firmware_and_serial():
    sw, version, sn = ep.parse_info(fixture("8.2.4345_with_device_data", "info"))
    assert (sw, version, sn) == ("D8.2.4345", (8, 2, 4345), "122446001637")
    assert ep.needs_token(version)
    sw, version, sn = ep.parse_info(fixture("4.2.33", "info"))
    assert (sw, version) == ("M4.2.33", (4, 2, 33)) and not ep.needs_token(version)
    assert ep.parse_info(fixture("3.9.36", "info"))[1] == (3, 9, 36)


def test_info_that_is_not_an_envoy():
    contains(
        str(raises(ValueError, ep.parse_info, b"<html><body>router</body></html>")), "software"
    )


def test_version_tuple_tolerates_suffixes():
    assert ep.version_tuple("D7.6.175") == (7, 6, 175)
    assert ep.version_tuple("D8.3.5289_beta") == (8, 3, 5289)
    assert ep.version_tuple("R4.10.35") == (4, 10, 35)
    assert ep.needs_token((7, 0, 88)) and not ep.needs_token((6, 9))


def test_extra_zero_meter_of_8_3_is_ignored_by_eid():
    readings = load("8.3.5167_3rd-pv", "ivp_meters_readings")
    assert readings[-1]["eid"] == 1023410688 and len(readings) == 3
    assert ep.net_from_readings(("net", 704643584), readings) == (-4912, 1753703632)


def test_total_consumption_only_system_subtracts_production():
    meters = load("8.3.5433_tot_is_net_cons", "ivp_meters")
    plan = ep.plan_from_meters(meters)
    assert plan == ("total-production", 704643584, 704643328)
    readings = load("8.3.5433_tot_is_net_cons", "ivp_meters_readings")
    assert ep.net_from_readings(plan, readings)[0] == 434


def test_single_meter_reply_is_matched_by_eid():
    readings = load("8.2.4345_with_device_data", "ivp_meters_readings")
    one = readings[1]
    assert ep.net_from_readings(("net", 704643584), one) == (199, 1748577049)
    contains(str(raises(ValueError, ep.net_from_readings, ("net", 704643328), one)), "no meter")


def test_top_level_active_power_not_channels():
    # 8.2.4286 (split phase): the 3rd channel of the net meter holds unrelated data.
    readings = load("8.2.4286_with_3cts_and_battery_split", "ivp_meters_readings")
    net = [r for r in readings if r["eid"] == 704643584][0]
    channel_sum = sum(c["activePower"] for c in net["channels"])
    assert abs(channel_sum - net["activePower"]) > 100
    assert ep.net_from_readings(("net", 704643584), readings)[0] == 1750


def test_malformed_replies():
    raises(ValueError, ep.plan_from_meters, {"error": "404 - Not Found"})
    raises(ValueError, ep.plan_from_meters, ["x"])
    raises(ValueError, ep.net_from_readings, ("net", 1), [{"eid": 1, "activePower": "7"}])
    raises(ValueError, ep.net_from_readings, ("net", 1), {"eid": 1})
    raises(ValueError, ep.net_from_production, [])
    broken = {"consumption": [{"measurementType": "net-consumption", "activeCount": 1}]}
    contains(str(raises(ValueError, ep.net_from_production, broken)), "wNow")


def test_sign_is_import_positive():
    assert ep.net_from_production(load("8.1.41", "production.json"))[0] < 0  # exporting
    assert net_of("8.2.4345_with_device_data") > 0  # importing


def test_scan_reading_agrees_with_the_full_parse_for_every_captured_meter():
    # Scan each meter's entry in the captured bytes as the Envoy laid them out.
    checked = 0
    for folder in fixture_folders():
        raw = fixture(folder, "ivp_meters_readings")
        readings = load(folder, "ivp_meters_readings")
        if type(readings) is not list:
            continue
        for entry in readings:
            at = raw.find(b'"eid": %d' % entry["eid"])
            start = raw.rfind(b"{", 0, at)
            buf = bytearray(raw[start:])
            got = ep.scan_reading(buf, len(buf), entry["eid"])
            assert got == (entry["activePower"], entry["timestamp"]), (folder, entry["eid"], got)
            checked += 1
    assert checked > 60, checked


def test_scan_reading_falls_back_when_the_layout_differs():
    assert (
        ep.scan_reading(bytearray(b'{"eid": 5, "activePower": 1.5}'), 30, 6) is None
    )  # other meter
    assert ep.scan_reading(bytearray(b'[{"eid": 5, "activePower": 1.5}]'), 32, 5) == (1.5, None)
    odd = b'{"channels": [{"activePower": 9}], "eid": 5, "activePower": 1.5}'
    assert ep.scan_reading(bytearray(odd), len(odd), 5) is None  # channels first: parse fully
    assert ep.scan_reading(bytearray(b"<html>401</html>"), 16, 5) is None
    assert ep.scan_reading(bytearray(b'{"eid": 5, "activePower": null}'), 31, 5) is None
