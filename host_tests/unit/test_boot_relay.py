# boot.py's relay claim: from config.json, else from relay.json, the relay pin of the last config
# that passed the checks (runs under CPython and MicroPython).
import json
import os

from support import contains, tmpdir

from firmware import board, bootrelay

GOOD = b'{"heater": {"power_w": 2000, "relay_pin": 22, "active_high": true}}'
BROKEN = (
    (
        b'{"heater": {"power_w": 2000, "relay_pin": 22,, }',
        "config.json is not valid JSON (expected a key in double quotes but found ',' on line 1)",
    ),
    # MicroPython's json reads these two, without active_high: the relay would go ON if its
    # module is low-trigger
    (b'{"heater": {"relay_pin": 22, "active_high":}}', "config.json is not valid JSON (expected"),
    (b'{"heater": {"relay_pin": 22, "active_high"}}', "config.json is not valid JSON (expected"),
    (b'{"heater": {"relay_pin": 22, "_": "caf\xe9"}}', "config.json is not UTF-8 text"),
    (b"[22]", "config.json is not an object {...}"),
    (b'{"heater": {"relay_pin": 6}}', "config.json has no usable relay pin (GPIO 6 is wired"),
    (b'{"heater": {"relay_pin": "22"}}', "config.json has no usable relay pin (GPIO '22' does"),
    (
        b'{"heater": {"relay_pin": 22, "active_high": 0}}',
        "config.json has no usable relay polarity",
    ),
    (b'{"wifi": {}}', "config.json has no heater section"),
    (None, "config.json is missing"),
)


def folder(config, last=None):
    os.chdir(tmpdir())
    if config is not None:
        with open("config.json", "wb") as f:
            f.write(config)
    if last is not None:
        with open(board.RELAY_FILE, "wb") as f:
            f.write(last)


def test_the_pin_comes_from_config_json():
    folder(GOOD, b'{"relay_pin": 23, "active_high": false}')
    assert bootrelay.boot_relay() == ((22, True), None)  # config.json wins over the old copy
    folder(b'{"heater": {"relay_pin": 22}}')
    assert bootrelay.boot_relay() == ((22, True), None)  # active_high defaults to true


def test_a_broken_config_falls_back_to_the_last_good_pin():
    for config, why in BROKEN:
        folder(config, b'{"relay_pin": 23, "active_high": false}')
        relay, line = bootrelay.boot_relay()
        assert relay == (23, False), (config, relay)
        contains(line, "boot: " + why)
        contains(line, "relay GPIO23 set OFF as in the last good config (relay.json)")


def test_a_damaged_or_missing_last_good_file_is_one_clear_line():
    for last, why in (
        (b'{"relay_pin": 23, "active_high": fal', "relay.json is not JSON"),
        (b'{"relay_pin": 23, "active_high": \xff}', "relay.json is not UTF-8"),
        (b'{"relay_pin": 7, "active_high": false}', "relay.json has no usable relay pin"),
        (b'{"relay_pin": 23, "active_high": null}', "relay.json has no usable relay polarity"),
        (b"null", "relay.json is not an object"),
        (b"x" * 5000, "relay.json is over 4096 bytes"),
        (None, "relay.json is missing (no config has passed the checks yet)"),
    ):
        folder(BROKEN[0][0], last)
        relay, line = bootrelay.boot_relay()
        assert relay is None, (last, relay)
        contains(line, "boot: config.json is not valid JSON (expected a key in double quotes but")
        contains(line, "on line 1) and " + why)
        contains(line, "the relay pin is unknown and left as it is")


def test_the_config_size_limit_is_the_same_as_config_py_s():
    from firmware import config

    assert bootrelay.CONFIG_BYTES == config.MAX_BYTES


def test_relay_off_at_boot_claims_the_last_good_pin_and_never_raises():
    claims = []
    folder(BROKEN[0][0], b'{"relay_pin": 23, "active_high": false}')
    board.relay_off_at_boot(claim=lambda pin, high: claims.append((pin, high)))
    assert claims == [(23, False)]
    folder(BROKEN[0][0], b"\xff")
    board.relay_off_at_boot(claim=lambda pin, high: claims.append((pin, high)))
    assert claims == [(23, False)]  # nothing claimed, nothing raised


def test_the_app_keeps_the_pin_of_a_config_that_passes():
    from firmware import app

    folder(None)
    cfg = {
        "wifi": {"ssid": "home"},
        "enlighten": {"email": "me@example.com", "password": "pw"},
        "envoy": {"host": "192.168.1.50"},
        "heater": {"power_w": 2000, "relay_pin": 25, "active_high": False},
    }
    with open("config.json", "w") as f:
        f.write(json.dumps(cfg))
    with open("safemode", "w") as f:
        f.write("")  # start() returns right after claiming the relay
    assert app.start("config.json") is None
    with open(board.RELAY_FILE) as f:
        assert json.loads(f.read()) == {"relay_pin": 25, "active_high": False}
    before = os.stat(board.RELAY_FILE)[8]
    with open("config.json", "w") as f:
        f.write('{"heater": ')  # broken later: boot.py still knows the pin
    assert bootrelay.boot_relay()[0] == (25, False)
    board.remember_relay(cfg["heater"])
    assert os.stat(board.RELAY_FILE)[8] == before  # unchanged: not rewritten
