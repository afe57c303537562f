# The config's tank section: off by default, the sensor's pin checked like the relay's (and for
# what a 4.7 kOhm pull-up does at reset), never the relay's pin, each rule's keys together, each
# mistake named with its fix (both runtimes).
from support import contains

from firmware import config


def check(tank, heater=None):
    raw = {
        "wifi": {"ssid": "x"},
        "enlighten": {"email": "a@b.c", "password": "p"},
        "envoy": {"host": "envoy.local"},
        "heater": dict({"relay_pin": 23, "power_w": 2000}, **(heater or {})),
        "tank": tank,
    }
    cfg, errors, warnings = config.validate(raw)
    return cfg["tank"], " | ".join(errors), " | ".join(warnings)


def test_off_by_default():
    t, errors, warnings = check({})
    assert t == {
        "pin": -1,
        "max_c": 0,
        "min_c": 0,
        "hot_by": "",
        "litres": 200,
        "legionella_c": 0,
        "legionella_window": "",
    }
    assert not errors and not warnings


def test_a_full_tank_section():
    t, errors, warnings = check(
        {
            "pin": 4,
            "max_c": 65,
            "min_c": 45,
            "hot_by": "18:30",
            "litres": 300,
            "legionella_c": 60,
            "legionella_window": "12:00-16:00",
        }
    )
    assert not errors and not warnings, (errors, warnings)
    assert t["pin"] == 4 and t["hot_by"] == "18:30"


def test_the_pin_is_checked_like_the_relays():
    for pin, text in (
        (7, "tank.pin: GPIO 7 is wired to the flash chip"),
        (40, "tank.pin: GPIO 40 does not exist on an ESP32"),
        (1, "tank.pin: GPIO 1 carries the serial console"),
        (35, "tank.pin: GPIO 35 is input-only: the 1-Wire bus needs a pin that can pull it low"),
        (12, "tank.pin: GPIO 12 pulled up at reset sets the flash voltage to 1.8 V"),
        (23, "tank.pin: GPIO 23 is the relay's (heater.relay_pin)"),
    ):
        errors = check({"pin": pin})[1]
        contains(errors, text)
    contains(check({"pin": 7})[1], "(or -1 for no sensor)")
    contains(check({"pin": "4"})[1], "tank.pin: expected a whole number, got text")
    contains(check({"pin": 4.5})[1], "tank.pin: expected a whole number")


def test_strapping_pins_are_warned_about_for_what_a_pull_up_does():
    contains(check({"pin": 2})[2], "tank.pin: GPIO 2 is a strapping pin that must be low to flash")
    contains(check({"pin": 0})[2], "starts the ROM bootloader")
    contains(check({"pin": 16})[2], "tank.pin: GPIO 16 is used by PSRAM on WROVER modules")
    t, errors, warnings = check({"pin": 4})
    assert not errors and not warnings


def test_each_rules_keys_go_together():
    contains(check({"pin": 4, "min_c": 45})[1], "tank.hot_by: missing; min_c 45 needs the time")
    contains(
        check({"pin": 4, "hot_by": "18:00"})[1], "tank.min_c: 0, so hot_by 18:00 does nothing"
    )
    contains(check({"pin": 4, "legionella_c": 60})[1], "tank.legionella_window: missing")
    contains(
        check({"pin": 4, "legionella_window": "12:00-16:00"})[1],
        "tank.legionella_c: 0, so legionella_window does nothing",
    )


def test_temperatures_that_make_no_sense_are_named():
    contains(check({"pin": 4, "max_c": 30})[1], "tank.max_c: 30 C is too cold for hot water")
    contains(check({"pin": 4, "max_c": 95})[1], "tank.max_c: 95 is out of range (0 to 90)")
    contains(
        check({"pin": 4, "max_c": 48, "min_c": 45, "hot_by": "18:00"})[1],
        "tank.min_c: 45 C must be at least 5 K under max_c (48 C)",
    )
    contains(
        check({"pin": 4, "legionella_c": 50, "legionella_window": "12:00-16:00"})[1],
        "tank.legionella_c: 50 C does not kill legionella; 60 is usual",
    )


def test_times_and_windows_are_checked():
    contains(check({"pin": 4, "min_c": 45, "hot_by": "6pm"})[1], "tank.hot_by: expected a time")
    contains(check({"pin": 4, "min_c": 45, "hot_by": "24:00"})[1], "24:00 is not a time of day")
    contains(
        check({"pin": 4, "legionella_c": 60, "legionella_window": "12-16"})[1],
        "tank.legionella_window: expected HH:MM-HH:MM",
    )


def test_rules_without_a_sensor_are_a_warning():
    t, errors, warnings = check({"max_c": 60})
    assert not errors
    contains(warnings, "tank.pin: -1 (no sensor), so the other tank keys are unused")


def test_the_tank_checks_load_only_for_a_tank_and_are_dropped_after():
    import sys

    for name in ("firmware.tank_rules", "firmware.tank_config"):
        sys.modules.pop(name, None)
    check({})
    assert "firmware.tank_config" not in sys.modules  # no tank: its checks never load (heap)
    check({"pin": 4, "min_c": 45, "hot_by": "18:00"})
    assert "firmware.tank_rules" not in sys.modules and "firmware.tank_config" not in sys.modules
