# envoy_parse.py against every captured Envoy (runs under CPython and MicroPython).
import json

from envoy_cases import EXPECTED
from support import contains, fixture, fixture_folders, raises

from firmware import envoy_json as ej
from firmware import envoy_parse as ep
from firmware import envoy_setup as es


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
        plan = es.plan_from_meters(meters)
        return ej.net_from_readings(plan, load(folder, "ivp_meters_readings"))[0]
    report = load(folder, "production.json")
    if type(report) is not dict:
        raise ep.NoNetPower(ep.NO_CT + " (production.json is an HTML page on this firmware)")
    return ej.net_from_production(report)[0]


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
    sw, version, sn = es.parse_info(fixture("8.2.4345_with_device_data", "info"))
    assert (sw, version, sn) == ("D8.2.4345", (8, 2, 4345), "122446001637")
    assert ep.needs_token(version)
    sw, version, sn = es.parse_info(fixture("4.2.33", "info"))
    assert (sw, version) == ("M4.2.33", (4, 2, 33)) and not ep.needs_token(version)
    assert es.parse_info(fixture("3.9.36", "info"))[1] == (3, 9, 36)


def test_info_that_is_not_an_envoy():
    contains(
        str(raises(ValueError, es.parse_info, b"<html><body>router</body></html>")), "software"
    )


def test_version_tuple_tolerates_suffixes():
    assert es.version_tuple("D7.6.175") == (7, 6, 175)
    assert es.version_tuple("D8.3.5289_beta") == (8, 3, 5289)
    assert es.version_tuple("R4.10.35") == (4, 10, 35)
    assert ep.needs_token((7, 0, 88)) and not ep.needs_token((6, 9))


def test_extra_zero_meter_of_8_3_is_ignored_by_eid():
    readings = load("8.3.5167_3rd-pv", "ivp_meters_readings")
    assert readings[-1]["eid"] == 1023410688 and len(readings) == 3
    assert ej.net_from_readings(("net", 704643584), readings) == (-4912, 1753703632)


def test_total_consumption_only_system_subtracts_production():
    meters = load("8.3.5433_tot_is_net_cons", "ivp_meters")
    plan = es.plan_from_meters(meters)
    assert plan == ("total-production", 704643584, 704643328)
    readings = load("8.3.5433_tot_is_net_cons", "ivp_meters_readings")
    assert ej.net_from_readings(plan, readings)[0] == 434


def test_single_meter_reply_is_matched_by_eid():
    readings = load("8.2.4345_with_device_data", "ivp_meters_readings")
    one = readings[1]
    assert ej.net_from_readings(("net", 704643584), one) == (199, 1748577049)
    contains(str(raises(ValueError, ej.net_from_readings, ("net", 704643328), one)), "no meter")


def test_top_level_active_power_not_channels():
    # 8.2.4286 (split phase): the 3rd channel of the net meter holds unrelated data.
    readings = load("8.2.4286_with_3cts_and_battery_split", "ivp_meters_readings")
    net = [r for r in readings if r["eid"] == 704643584][0]
    channel_sum = sum(c["activePower"] for c in net["channels"])
    assert abs(channel_sum - net["activePower"]) > 100
    assert ej.net_from_readings(("net", 704643584), readings)[0] == 1750


def test_malformed_replies():
    raises(ValueError, es.plan_from_meters, {"error": "404 - Not Found"})
    raises(ValueError, es.plan_from_meters, ["x"])
    raises(ValueError, ej.net_from_readings, ("net", 1), [{"eid": 1, "activePower": "7"}])
    raises(ValueError, ej.net_from_readings, ("net", 1), {"eid": 1})
    raises(ValueError, ej.net_from_production, [])
    broken = {"consumption": [{"measurementType": "net-consumption", "activeCount": 1}]}
    contains(str(raises(ValueError, ej.net_from_production, broken)), "wNow")


def test_sign_is_import_positive():
    assert ej.net_from_production(load("8.1.41", "production.json"))[0] < 0  # exporting
    assert net_of("8.2.4345_with_device_data") > 0  # importing


def _object_at(raw, start):
    # The bytes of the JSON object that starts at raw[start] (captures hold no braces in strings).
    depth = 0
    for i in range(start, len(raw)):
        if raw[i] == 123:
            depth += 1
        elif raw[i] == 125:
            depth -= 1
            if depth == 0:
                return raw[start : i + 1]
    raise AssertionError("unbalanced object")


def test_scan_reading_agrees_with_the_full_parse_for_every_captured_meter():
    # Scan each meter's entry in the captured bytes as the Envoy laid them out.
    checked = zeros = 0
    for folder in fixture_folders():
        raw = fixture(folder, "ivp_meters_readings")
        readings = load(folder, "ivp_meters_readings")
        if type(readings) is not list:
            continue
        for entry in readings:
            at = raw.find(b'"eid": %d' % entry["eid"])
            buf = bytearray(_object_at(raw, raw.rfind(b"{", 0, at)))
            buf.extend(b"junk after the reply")  # the connection's buffer is larger than n
            n = len(buf) - 20
            got = ep.scan_reading(buf, n, entry["eid"])
            if entry["activePower"] == 0 and entry.get("voltage") == 0:
                # An all-zero meter (the unlisted one of 8.3.x, disabled CTs): never 0 W.
                assert got is None, (folder, entry["eid"], got)
                raises(ep.Glitch, ej.reading, json.loads(bytes(buf[:n])), entry["eid"])
                zeros += 1
                continue
            assert got == (entry["activePower"], entry["timestamp"]), (folder, entry["eid"], got)
            assert got == ej.reading(json.loads(bytes(buf[:n])), entry["eid"])
            checked += 1
    assert checked >= 49 and zeros >= 12, (checked, zeros)


def scan(text, eid=5):
    buf = bytearray(text)
    return ep.scan_reading(buf, len(buf), eid)


def test_scan_reading_falls_back_when_the_layout_differs():
    assert scan(b'{"eid": 5, "activePower": 1.5}', 6) is None  # another meter
    assert scan(b'{"eid": 5, "activePower": 1.5}') == (1.5, None)
    assert scan(b'[{"eid": 5, "activePower": 1.5}]') is None  # a list: parse fully
    assert scan(b"<html>401</html>") is None
    assert scan(b'{"eid": 5, "activePower": null}') is None
    assert scan(b"") is None


def test_scan_reading_is_exact_or_declines():
    # Each of these fooled a bytes.find scan, or made it raise; now the scan gives what
    # json.loads + reading() give, or declines (None) so that the full parse decides.
    cases = [
        # a nested key before the top-level one
        (b'{"eid": 5, "meta": {"activePower": 9}, "activePower": 1.5}', (1.5, None)),
        # the key's name as a string value, then another number
        (b'{"eid": 5, "label": "activePower", "x": 9, "activePower": 1.5}', (1.5, None)),
        (b'{"eid": 5, "note": "\\"activePower\\": 9", "activePower": 1.5}', (1.5, None)),
        # channels first
        (
            b'{"channels": [{"eid": 5, "activePower": 9}], "eid": 5, "activePower": 1.5}',
            (1.5, None),
        ),
        # duplicate keys: json.loads keeps the last
        (b'{"eid": 5, "activePower": 9, "activePower": 1.5}', (1.5, None)),
        (b'{"eid": 5, "eid": 6, "activePower": 1.5}', None),
        (b'{"eid": 5, "activePower": 1.5, "timestamp": 1, "timestamp": 7}', (1.5, 7)),
        # not numbers, or not JSON numbers
        (b'{"eid": "5", "activePower": 1.5}', None),
        (b'{"eid": true, "activePower": 1.5}', None),
        (b'{"eid": 5.0, "activePower": 1.5}', None),
        (b'{"eid": 5E0, "activePower": 1.5}', None),
        (b'{"eid": 5, "activePower": 15E-1, "timestamp": 1e1}', (1.5, 10)),
        (b'{"eid": 5, "activePower": "12"}', None),
        (b'{"eid": 5, "activePower": true}', None),
        (b'{"eid": 5, "activePower": 1-2}', None),
        (b'{"eid": 5, "activePower": 1e999}', None),
        (b'{"eid": 5, "activePower": 01}', None),
        (b'{"eid": 5, "activePower": +1}', None),
        (b'{"eid": 5, "activePower": .5}', None),
        (b'{"eid": 5, "activePower": 1.}', None),
        (b'{"eid": 5, "activePower": NaN}', None),
        (b'{"eid": 5, "activePower": 2e9}', None),
        # not one JSON object
        (b'{"eid": 5, "activePower": 1.5} trailing', None),
        (b'{"eid": 5, "activePower": 1.5,}', None),
        (b'{"eid": 5 "activePower": 1.5}', None),
        (b'{"eid": 5, "activePower": 1.5', None),
        (b'{"eid": 5, "activePower": 1.5, "x": [1, 2}', None),
        (b'{"eid": 5, "\\u0061ctivePower": 9, "activePower": 1.5}', None),
        (b'{"eid": 5, "activePower": 1.5, "x": "\xff"}', None),
        # exact values
        (b'{"eid": 5, "activePower": -0.25e2, "timestamp": 1748577049}', (-25.0, 1748577049)),
        (b'{"eid": 5, "activePower": 12, "timestamp": 17.9}', (12, 17)),
        (b'{"eid": 5, "activePower": 12, "timestamp": "x"}', None),
        (b' {"x": [true, false, null, {"a": []}], "eid": 5, "activePower": 3}\r\n', (3, None)),
    ]
    for text, want in cases:
        got = scan(text)
        assert got == want and type(got) is type(want), (text, got, want)
        if got is not None:
            assert type(got[0]) is type(want[0]), (text, got)


def meter(eid=704643584, kind="net-consumption", state="enabled"):
    return {"eid": eid, "state": state, "measurementType": kind}


def test_a_meter_list_holding_junk_is_a_bad_reply():
    # Not old firmware (that is a reply that is not a list), and not a TypeError later on.
    for junk in (
        [meter(eid="704643584")],
        [meter(eid=True)],
        [meter(eid=7.5)],
        [meter(eid=-1)],
        [meter(eid=None)],
        [meter(kind=["net-consumption"])],
        [meter(kind={"a": 1})],
        [meter(state=1)],
        [meter(), "x"],
        [meter(), [meter()]],
        [meter(), None],
    ):
        e = raises(ep.BadReply, es.plan_from_meters, junk)
        assert isinstance(e, ValueError)
    assert es.plan_from_meters([meter()]) == ("net", 704643584)


def test_readings_match_an_integer_eid_and_a_number():
    # true == 1 and 5.0 == 5 in Python: neither is meter 1 or 5.
    raises(ValueError, ej.reading, {"eid": True, "activePower": 7}, 1)
    raises(ValueError, ej.reading, [{"eid": 5.0, "activePower": 7}], 5)
    raises(ValueError, ej.reading, {"eid": "5", "activePower": 7}, 5)
    for junk in (True, "12", None, [1], {"w": 1}, float("nan"), float("inf"), -2e9):
        e = raises(ValueError, ej.net_from_readings, ("net", 5), {"eid": 5, "activePower": junk})
        contains(str(e), "activePower")
    assert ej.reading({"eid": 5, "activePower": 7, "timestamp": "x"}, 5) == (7, None)
    assert ej.reading({"eid": 5, "activePower": 7, "timestamp": True}, 5) == (7, None)
    assert ej.reading({"eid": 5, "activePower": -7.5, "timestamp": 9.5}, 5) == (-7.5, 9)


def test_production_json_with_junk_is_a_value_error():
    def report(**fields):
        entry = {"measurementType": "net-consumption", "activeCount": 1, "wNow": 5.5}
        entry.update(fields)
        return {"consumption": [entry]}

    for bad in (
        {"consumption": 5},
        {"consumption": "x"},
        {"consumption": {"a": 1}},
        report(activeCount="1"),
        report(activeCount=True),
        report(activeCount=None),
        report(wNow=float("inf")),
        report(wNow=True),
        report(wNow="5"),
    ):
        raises(ValueError, ej.net_from_production, bad)
    raises(ep.NoNetPower, ej.net_from_production, report(activeCount=0))
    assert ej.net_from_production(report(readingTime=[1])) == (6, None)
    assert ej.net_from_production(report(readingTime=17)) == (6, 17)


def test_info_without_a_version_number_is_not_an_envoy():
    # A version-less /info is not "old firmware that needs no token".
    for body in (
        b"<software>D</software>",
        b"<software>D.8</software>",
        b"<software>\xff</software>",
        "<software>D\u00b2</software>".encode(),
    ):
        raises(ValueError, es.parse_info, body)


def test_info_fields_are_short_and_printable():
    # They reach the console; an impostor's /info must not drive the terminal.
    sw, _, sn = es.parse_info(
        b"<software>R3.9.36\x1b[2J</software><sn>12\x07" + b"9" * 99 + b"</sn>"
    )
    assert sw == "R3.9.36?[2J" and sn == "12?" + "9" * 37


def test_an_all_zero_reading_is_a_glitch_never_0_w():
    zero = b'{"eid": 5, "timestamp": 1, "activePower": 0.0, "voltage": 0.0, "current": 0.0}'
    assert scan(zero) is None  # the full parse decides, and names it
    raises(ep.Glitch, ej.reading, json.loads(zero), 5)
    contains(str(raises(ep.Glitch, ej.reading, [json.loads(zero)], 5)), "0 W at 0 V")
    # A real 0 W (the house exactly balanced) still sees the mains voltage.
    assert scan(b'{"eid": 5, "activePower": 0.0, "voltage": 241.2}') == (0.0, None)
    assert ej.reading({"eid": 5, "activePower": 0, "voltage": 241.2}, 5) == (0, None)
    # Old firmware without a voltage field: nothing to judge by.
    assert scan(b'{"eid": 5, "activePower": 0.0}') == (0.0, None)
    # The Glitch is a ValueError (parsers' callers that know nothing of it still catch it).
    assert issubclass(ep.Glitch, ValueError)


def test_active_count_0_is_no_ct_at_setup_but_a_glitch_once_polling():
    report = {
        "consumption": [
            {"measurementType": "net-consumption", "activeCount": 0, "wNow": 0.0},
        ]
    }
    raises(ep.NoNetPower, ej.net_from_production, report)
    contains(str(raises(ep.Glitch, ej.net_from_production, report, True)), "activeCount 0")
    raises(ValueError, ej.net_from_production, {"consumption": []}, True)
    try:
        ej.net_from_production({"consumption": []}, True)
    except ep.NoNetPower:
        raise AssertionError("polling never decides there is no CT")
    except ValueError:
        pass


def test_a_zero_phase_beside_a_live_one_is_a_glitch():
    # pyenphase#499 (8.3.6086): storage L1 all 0.0 on a split-phase CT, the total one phase short.
    def meter(v1, v2, v3=0.0):
        chans = ",".join(
            '{"eid": %d, "activePower": %s, "voltage": %s}' % (9 + k, 0.0 if v == 0 else 600.5, v)
            for k, v in enumerate((v1, v2, v3))
        )
        return (
            '{"eid": 5, "activePower": 600.5, "voltage": 121.3, "channels": [%s]}' % chans
        ).encode()

    bad = meter(0.0, 121.3)
    assert scan(bad) == (600.5, None)  # phaseCount unknown: no judgement
    buf = bytearray(bad)
    assert ep.scan_reading(buf, len(buf), 5, 2) is None  # declines: the full parse names it
    contains(str(raises(ep.Glitch, ej.reading, json.loads(bad), 5, 2)), "0 V while another")
    assert ej.reading(json.loads(bad), 5, 1) == (600.5, None)  # one phase: the 2nd is unused
    # The third channel of a split-phase meter is unused and reads 0: that is normal.
    good = bytearray(meter(121.3, 120.9, 0.0))
    assert ep.scan_reading(good, len(good), 5, 2) == (600.5, None)
    assert ej.reading(json.loads(bytes(good)), 5, 2) == (600.5, None)
    # -0.0 and 0e0 are zero too; 0.001 is live.
    for zero in (b"-0.0", b"0", b"0e0"):
        text = bad.replace(b'"voltage": 0.0', b'"voltage": ' + zero, 1)
        t = bytearray(text)
        assert ep.scan_reading(t, len(t), 5, 2) is None, zero
    live = bytearray(bad.replace(b'"voltage": 0.0', b'"voltage": 0.001', 1))
    assert ep.scan_reading(live, len(live), 5, 2) == (600.5, None)


def test_scan_reading_agrees_with_the_full_parse_with_each_meters_phase_count():
    judged = 0
    for folder in fixture_folders():
        raw = fixture(folder, "ivp_meters_readings")
        readings, meters = load(folder, "ivp_meters_readings"), load(folder, "ivp_meters")
        if type(readings) is not list or type(meters) is not list:
            continue
        phases = {m["eid"]: m.get("phaseCount", 0) for m in meters if type(m) is dict}
        for entry in readings:
            at = raw.find(b'"eid": %d' % entry["eid"])
            buf = bytearray(_object_at(raw, raw.rfind(b"{", 0, at)))
            n = phases.get(entry["eid"], 0)
            got = ep.scan_reading(buf, len(buf), entry["eid"], n)
            try:
                want = ej.reading(json.loads(bytes(buf)), entry["eid"], n)
            except ep.Glitch:
                assert got is None, (folder, entry["eid"])
                judged += 1
                continue
            assert got == want, (folder, entry["eid"], got, want)
    assert judged >= 12, judged
