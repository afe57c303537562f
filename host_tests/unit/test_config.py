# config.py: defaults, and one clear message per problem (runs under CPython and MicroPython).
import json

from support import ROOT, contains, tmpdir

from firmware import clock_text, config, urls


def good():
    return {
        "wifi": {"ssid": "home", "password": "pw"},
        "enlighten": {"email": "me@example.com", "password": "secret"},
        "envoy": {"host": "192.168.1.50"},
        "heater": {"power_w": 2000, "relay_pin": 23},
    }


def only_error(raw):
    cfg, errors, warnings = config.validate(raw)
    assert len(errors) == 1, errors
    return errors[0]


def test_defaults_fill_in_what_is_missing():
    cfg, errors, warnings = config.validate(good())
    assert errors == [] and warnings == [], (errors, warnings)
    assert cfg["control"]["start_delay_s"] == 0
    assert cfg["control"]["min_on_s"] == 300
    assert cfg["control"]["stale_s"] == 30
    assert cfg["envoy"]["pin"] == "tofu"
    assert cfg["heater"]["active_high"] is True
    assert cfg["enlighten"]["login_url"] == "https://enlighten.enphaseenergy.com/login/login.json"
    assert cfg["clock"]["dst"] == "none"


def test_zero_delays_are_allowed():
    raw = good()
    raw["control"] = {"start_delay_s": 0, "stop_delay_s": 0, "min_on_s": 0, "min_off_s": 0}
    cfg, errors, _ = config.validate(raw)
    assert errors == [], errors
    assert cfg["control"]["min_off_s"] == 0


def test_missing_file():
    cfg, errors, _ = config.load(tmpdir() + "/config.json")
    assert cfg is None
    contains(errors[0], "not found")
    contains(errors[0], "config.example.json")


def test_invalid_json():
    path = tmpdir() + "/config.json"
    with open(path, "w") as f:
        f.write('{"wifi": {"ssid": "home",}')
    cfg, errors, _ = config.load(path)
    assert cfg is None
    contains(errors[0], "not valid JSON")


def load_bytes(data):
    path = tmpdir() + "/config.json"
    with open(path, "wb") as f:
        f.write(data)
    cfg, errors, _ = config.load(path)
    assert cfg is None and len(errors) == 1, errors
    assert errors[0].startswith(path + ": "), errors
    return errors[0][len(path) + 2 :]


# MicroPython's json.loads accepts each of these, so the board ran with a config that the PC check
# refused (or with other values than the PC saw); now both refuse it with the same line.
LENIENT = (
    (b'{\n  "a": 1,\n  "b": 2,\n}', "a trailing comma before '}' on line 3"),
    (b'{"a": [1, 2,]}', "a trailing comma before ']' on line 1"),
    (b'{"a": 1\n "b": 2}', "expected ',' or '}' but found '\"' on line 2"),
    (b"[1 2]", "expected ',' or ']' but found '2' on line 1"),
    (b'{"a" 1}', "expected ':' after a key but found '1' on line 1"),
    (b'{"a":}', "expected a value but found '}' on line 1"),
    (b'{"a"}', "expected ':' after a key but found '}' on line 1"),
    (b"{1: 2}", "expected a key in double quotes but found '1' on line 1"),
    (b"[,1]", "expected a value but found ',' on line 1"),
    (b"{,}", "expected a key in double quotes but found ',' on line 1"),
    (b'{"a": 1]', "expected ',' or '}' but found ']' on line 1"),
    (b"[}", "expected a value but found '}' on line 1"),
    (b'{"a": 0123}', "a malformed number '0123' on line 1"),
    (b'{"a": 1.}', "a malformed number '1.' on line 1"),
    (b'{"a": 1.e5}', "a malformed number '1.e5' on line 1"),
    (b'{"a": "x\ny"}', "a line break or other control character inside text on line 1"),
    (b'{"a": "x\ty"}', "a line break or other control character inside text on line 1"),
    (b'{"a": "\\x"}', "an unknown escape: a backslash inside text is written \\\\ on line 1"),
    (b'{"a": "\\u12zz"}', "a \\u escape without four hex digits on line 1"),
    (
        b'{"a": "\\ud83d\\ude00"}',
        "a \\ud83d escape (half of a pair): write the character itself on line 1",
    ),
    (b"\x0c{}", "expected a value but found a non-printing character on line 1"),
    # CPython's json.loads accepts these, MicroPython's does not
    (b'{"a": NaN}', "expected a value but found 'NaN' on line 1"),
    (b'{"a": -Infinity}', "a malformed number '-Infinity' on line 1"),
)


def test_what_micropython_accepts_and_cpython_refuses_is_refused_on_both():
    for data, why in LENIENT:
        got = load_bytes(data)
        assert got == "not valid JSON (%s)" % why, (data, got)


def test_json_errors_name_the_line():
    text = b'{\n  "wifi": {"ssid": "home"},\n  "heater": {"power_w": 2000 "relay_pin": 23}\n}'
    contains(load_bytes(text), "on line 3")
    contains(load_bytes(b'{"wifi": {\n\n'), "the file ends before its closing '}' on line 3")
    contains(load_bytes(b""), "expected a value but found the end of the file on line 1")
    contains(load_bytes(b'{"a": "abc}'), "text without its closing quote on line 1")
    contains(load_bytes(b"{} {}"), "more after the end of the JSON: '{' on line 1")


def test_not_utf8_too_big_too_deep():
    got = load_bytes(b'{\n"wifi": {"ssid": "caf\xe9"}}')  # Latin-1, from an old editor
    assert got == "not UTF-8 text (an invalid byte on line 2); save it as UTF-8", got
    got = load_bytes(b'{"_": "%s"}' % (b"x" * config.MAX_BYTES))
    assert got == "over %d bytes; is it the right file?" % config.MAX_BYTES, got
    contains(load_bytes(b"[" * 17 + b"]" * 17), "nested more than 16 deep")
    contains(load_bytes(b'{"a": 1%s}' % (b"0" * 40)), "a number of over 40 characters")


def test_strict_json_still_loads_with_the_same_values():
    head = b'{"wifi": {"ssid": %s}, "enlighten": {"email": "me@example.com", "password": "pw"},'
    tail = b' "envoy": {"host": "192.168.1.50"}, "heater": {"power_w": 2000, "relay_pin": 23},\r\n'
    tail += b' "control": {"poll_s": 1.5, "start_delay_s": 1e1, "max_import_w": -0}}\n'
    want = 'Caf\u00e9 \U0001f600 "q" \\ /\t'
    for ssid in (
        b'"Caf\\u00e9 \xf0\x9f\x98\x80 \\"q\\" \\\\ \\/\\t"',  # escapes; the emoji as UTF-8
        b'"Caf\xc3\xa9 \xf0\x9f\x98\x80 \\"q\\" \\\\ /\\u0009"',
    ):
        for bom in (b"", b"\xef\xbb\xbf"):  # a byte-order mark is skipped
            path = tmpdir() + "/config.json"
            with open(path, "wb") as f:
                f.write(bom + head % ssid + tail)
            cfg, errors, _ = config.load(path)
            assert errors == [], errors
            assert cfg["wifi"]["ssid"] == want, cfg["wifi"]["ssid"]
            assert cfg["control"]["start_delay_s"] == 10 and cfg["control"]["poll_s"] == 1.5


def test_top_level_must_be_an_object():
    contains(only_error([1, 2]), "expected an object")


def test_wrong_type_names_key_and_type():
    raw = good()
    raw["control"] = {"poll_s": "5"}
    e = only_error(raw)
    contains(e, "control.poll_s")
    contains(e, "expected a number, got text")


def test_bool_is_not_a_number_and_a_number_is_not_a_bool():
    raw = good()
    raw["heater"]["power_w"] = True
    raw["heater"]["active_high"] = 1
    cfg, errors, _ = config.validate(raw)
    assert len(errors) == 2, errors
    contains(errors[0], "heater.active_high: expected true or false, got a number")
    contains(errors[1], "heater.power_w: expected a whole number, got true/false")


def test_out_of_range():
    raw = good()
    raw["control"] = {"min_on_s": -5}
    e = only_error(raw)
    contains(e, "control.min_on_s")
    contains(e, "out of range")


def test_unknown_key_and_section_are_reported_as_typos():
    raw = good()
    raw["control"] = {"pol_s": 2}
    raw["heatr"] = {}
    cfg, errors, _ = config.validate(raw)
    assert len(errors) == 2, errors
    contains(" ".join(errors), "control.pol_s: unknown key (a typo?)")
    contains(" ".join(errors), "heatr: unknown section")


def test_a_retired_key_is_a_warning_naming_what_replaced_it_not_an_error():
    # An update must not stop the diverter because of the config of the version before.
    raw = good()
    raw["control"] = {"start_margin_w": 200}
    cfg, errors, warnings = config.validate(raw)
    assert errors == [], errors
    assert len(warnings) == 1, warnings
    contains(warnings[0], "control.start_margin_w: gone in 1.1 and ignored; remove it")
    contains(warnings[0], "control.max_import_w")
    assert "start_margin_w" not in cfg["control"]


def test_the_update_section_has_defaults_and_checks_its_keys():
    cfg, errors, warnings = config.validate(good())
    assert errors == [] and warnings == [], (errors, warnings)
    assert cfg["update"] == {"url": "", "check_h": 24, "auto": False, "ca_file": "", "pin": ""}
    raw = good()
    raw["update"] = {"url": "http://example.com/r", "check_h": 0, "auto": "yes", "pin": "abc"}
    _, errors, _ = config.validate(raw)
    text = " ".join(errors)
    contains(text, "update.url: must start with https://")
    contains(text, "update.check_h: 0 is out of range (1 to 8760)")
    contains(text, "update.auto: expected true or false")
    contains(text, 'update.pin: expected "" or the 64 hex digits of a SHA-256')
    assert len(errors) == 4, errors


def test_an_update_url_without_a_release_key_is_a_warning():
    raw = good()
    raw["update"] = {"url": "https://example.com/releases", "pin": "ab" * 32}
    cfg, errors, warnings = config.validate(raw)
    assert errors == [], errors
    from firmware import release_key

    if release_key.N is None:  # the repository's: no key
        assert len(warnings) == 1 and "trusts no release key" in warnings[0], warnings
    raw["update"] = {"auto": True}
    _, errors, warnings = config.validate(raw)
    assert errors == [] and "update.url: empty" in warnings[0], warnings


def test_comment_keys_are_ignored():
    raw = good()
    raw["_readme"] = "hello"
    raw["wifi"]["_ssid"] = "the network"
    assert config.validate(raw)[1] == []


def test_missing_required_key():
    raw = good()
    del raw["envoy"]["host"]
    contains(only_error(raw), "envoy.host: missing")


def test_missing_credentials():
    raw = good()
    del raw["enlighten"]["password"]
    contains(only_error(raw), "enlighten.password: missing")
    raw = good()
    del raw["enlighten"]
    contains(only_error(raw), "enlighten.email and enlighten.password: missing")


def test_a_pasted_token_replaces_credentials():
    raw = good()
    del raw["enlighten"]
    raw["envoy"]["token"] = (
        "eyJraWQiOiJ4IiwidHlwIjoiSldUIiwiYWxnIjoiRVMyNTYifQ."
        "eyJhdWQiOiIxMjIiLCJleHAiOjIwMDAwMDAwMDAsImlhdCI6MTcwMDAwMDAwMH0.c2ln"
    )
    assert config.validate(raw)[1] == []


def test_a_pasted_token_must_be_a_jwt():
    raw = good()
    raw["envoy"]["token"] = "not-a-token"
    contains(only_error(raw), "envoy.token: a token has 3 parts")


def test_flash_and_input_only_pins_are_refused():
    for pin, why in (
        (6, "flash"),
        (11, "flash"),
        (34, "input-only"),
        (1, "serial console"),
        (40, "does not exist"),
    ):
        raw = good()
        raw["heater"]["relay_pin"] = pin
        e = only_error(raw)
        contains(e, "heater.relay_pin")
        contains(e, why)


def test_strapping_pins_warn():
    for pin in (0, 2, 12, 15):
        raw = good()
        raw["heater"]["relay_pin"] = pin
        cfg, errors, warnings = config.validate(raw)
        assert errors == [], errors
        contains(warnings[0], "strapping pin")


def test_choices_and_grammars():
    raw = good()
    raw["clock"] = {"dst": "summer"}
    raw["boost"] = {"window": "25:00-03:00"}
    raw["envoy"]["pin"] = "abc"
    raw["enlighten"]["login_url"] = "http://insecure.example/login"
    cfg, errors, _ = config.validate(raw)
    text = " ".join(errors)
    assert len(errors) == 4, errors
    contains(text, "clock.dst: 'summer' is not one of")
    contains(text, "boost.window: 25:00 is not a time of day")
    contains(text, "envoy.pin: expected")
    contains(text, "enlighten.login_url: must start with https://")


def test_host_forms():
    assert urls.split_host("192.168.1.50") == ("192.168.1.50", None)
    assert urls.split_host("127.0.0.1:8443") == ("127.0.0.1", 8443)
    raw = good()
    raw["envoy"]["host"] = "https://192.168.1.50"
    contains(only_error(raw), "envoy.host")


def test_url_split():
    assert urls.split_url("https://a.example/login/login.json") == (
        "a.example",
        443,
        "/login/login.json",
    )
    assert urls.split_url("https://127.0.0.1:9443/tokens") == ("127.0.0.1", 9443, "/tokens")


def test_window_parse():
    assert clock_text.parse_window("22:30-06:00") == (22 * 60 + 30, 360)
    e = None
    try:
        clock_text.parse_window("10:00-10:00")
    except ValueError as x:
        e = x
    contains(str(e), "same time")


def test_stale_shorter_than_two_polls_warns():
    raw = good()
    raw["control"] = {"poll_s": 5, "stale_s": 6}
    cfg, errors, warnings = config.validate(raw)
    assert errors == []
    contains(warnings[0], "control.stale_s")


def example():
    with open(ROOT + "/config.example.json") as f:
        return json.load(f)


def test_example_config_documents_every_key_and_only_its_placeholders_are_refused():
    raw = example()
    cfg, errors, warnings = config.validate(raw)
    assert warnings == [], warnings
    assert len(errors) == 4, errors
    for section, key, value, _ in config.PLACEHOLDERS:
        assert raw[section][key] == value, "%s.%s: not the example's" % (section, key)
        contains(" ".join(errors), "%s.%s: %r is the example's; put your" % (section, key, value))
        raw[section][key] = good()[section][key]
    assert config.validate(raw)[1] == []  # filled in, the example is a valid config
    for section in config.SCHEMA:
        for key in config.SCHEMA[section] or cfg[section]:  # the tank's: in tank_config.py
            assert key in raw[section], "%s.%s not in config.example.json" % (section, key)
            assert "_" + key in raw[section], "%s.%s has no comment" % (section, key)


def test_each_placeholder_left_alone_is_refused():
    for section, key, value, _ in config.PLACEHOLDERS:
        raw = good()
        raw[section][key] = value
        e = only_error(raw)
        contains(e, "%s.%s: %r is the example's; put your " % (section, key, value))


def test_the_example_login_is_not_needed_with_a_pasted_token():
    raw = good()
    raw["enlighten"] = {"email": "you@example.com", "password": "enlighten-password"}
    raw["envoy"]["token"] = (
        "eyJraWQiOiJ4IiwidHlwIjoiSldUIiwiYWxnIjoiRVMyNTYifQ."
        "eyJhdWQiOiIxMjIiLCJleHAiOjIwMDAwMDAwMDAsImlhdCI6MTcwMDAwMDAwMH0.c2ln"
    )
    assert config.validate(raw)[1] == []


def test_a_url_for_the_envoy_host_names_the_address_to_give():
    for host, bare in (
        ("https://192.168.1.50", "192.168.1.50"),
        ("http://envoy.local/", "envoy.local"),
        ("https://192.168.1.50:443/home", "192.168.1.50:443"),
    ):
        raw = good()
        raw["envoy"]["host"] = host
        e = only_error(raw)
        assert e == 'envoy.host: give the address alone, without "%s": "%s"' % (
            host.split("//")[0] + "//",
            bare,
        ), e
        assert "port" not in e, e


def test_kilowatts_for_the_heater_power_name_the_watts():
    for kw, watts in ((2.0, 2000), (3, 3000), (2.5, 2500), (0.75, 750), (12, 12000)):
        raw = good()
        raw["heater"]["power_w"] = kw
        e = only_error(raw)
        assert e == "heater.power_w: %s looks like kilowatts; give watts: %d" % (kw, watts), e
    raw = good()
    raw["heater"]["power_w"] = 50  # neither kW nor W: the range
    contains(only_error(raw), "heater.power_w: 50 is out of range (100 to 12000)")


def test_hours_for_the_utc_offset_name_the_minutes():
    for hours in (1, 2, -5, -12, 14, 10):
        raw = good()
        raw["clock"] = {"utc_offset_min": hours}
        e = only_error(raw)
        assert e == "clock.utc_offset_min: %d looks like hours; give minutes: %d" % (
            hours,
            hours * 60,
        ), e
    raw = good()
    raw["clock"] = {"utc_offset_min": 100}
    contains(only_error(raw), "clock.utc_offset_min: 100 is not a whole quarter hour")
    for minutes in (0, 60, -300, 330, 345, 765, -720, 840):
        raw = good()
        raw["clock"] = {"utc_offset_min": minutes}
        assert config.validate(raw)[1] == [], minutes


def test_half_a_boost_is_refused_with_the_missing_half():
    raw = good()
    raw["boost"] = {"min_kwh": 3}
    e = only_error(raw)
    contains(e, "boost.window: missing; min_kwh 3 needs the off-peak window")
    contains(e, '"01:00-05:00"')
    raw["boost"] = {"window": "01:00-05:00"}
    e = only_error(raw)
    contains(e, "boost.min_kwh: 0, so the window 01:00-05:00 does nothing")
    raw["boost"] = {"window": "25:00-05:00"}  # one problem at a time
    contains(only_error(raw), "boost.window: 25:00 is not a time of day")
    for whole in ({"min_kwh": 0, "window": ""}, {"min_kwh": 2.5, "window": "22:00-06:00"}):
        raw["boost"] = whole
        assert config.validate(raw)[1] == [], whole


def test_burst_output_settings():
    cfg, errors, _ = config.validate(good())
    assert cfg["heater"]["output"] == "relay" and cfg["heater"]["mains_hz"] == 50
    raw = good()
    raw["heater"].update({"output": "burst", "burst_window_s": 20, "mains_hz": 60})
    cfg, errors, _ = config.validate(raw)
    assert errors == [] and cfg["heater"]["burst_window_s"] == 20
    for key, value, text in (
        ("output", "ssr", "heater.output: 'ssr' is not one of relay, burst"),
        ("mains_hz", 55, "heater.mains_hz: 55 is not one of 50, 60"),
        ("mains_hz", True, "heater.mains_hz: True is not one of 50, 60"),
        ("burst_window_s", 0, "heater.burst_window_s: 0 is out of range"),
    ):
        raw = good()
        raw["heater"][key] = value
        contains(only_error(raw), text)
    raw = good()
    raw["heater"]["output"] = "burst"
    raw["control"] = {"poll_s": 5}
    contains(only_error(raw), "control.poll_s: 5 s is too slow for heater.output burst")
