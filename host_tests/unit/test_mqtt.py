# MQTT's commands (mqtt_cmd), discovery payloads (mqtt_ha) and the mqtt config section, on a real
# Diverter with a fake board (runs under CPython and MicroPython). The client and the broker are
# tested end to end in host_tests/integration/test_mqtt_e2e.py.
import json

from support import ha_configs, joined, raises
from test_diverter import apply, diverter, reading

from firmware import config, mqtt_cmd, mqtt_ha, policy

BASE = "diverter_abc"


class Q:
    # What mqtt_cmd and mqtt_ha use of an mqtt.Mqtt.
    def __init__(self, d):
        self.d = d
        self.m = {"prefix": "homeassistant"}
        self.base = BASE
        self.uid = BASE
        self.on_min = 60
        self.dirty = False
        self.discover = None
        self.discovered = -60
        self.up = 100


def send(q, name, value, retained=0):
    mqtt_cmd.run(q, ("%s/%s/set" % (BASE, name)).encode(), value, retained)


def test_mode_commands_change_policy_and_ask_for_the_state():
    d, board = diverter()
    q = Q(d)
    reading(d, board, -3000)
    assert apply(d) == (True, "surplus")
    send(q, "mode", b"off")
    assert q.dirty and apply(d) == (False, policy.MANUAL_OFF)
    send(q, "mode", b"auto")
    assert apply(d) == (True, "surplus")
    reading(d, board, 500)
    send(q, "on_min", b"2")
    send(q, "mode", b"on")
    assert q.on_min == 2 and apply(d) == (True, policy.MANUAL_ON)
    assert d.status()["mode_left_min"] == 2


def test_a_remote_forced_on_keeps_the_safety_rules():
    d, board = diverter()
    q = Q(d)
    send(q, "mode", b"on")
    assert apply(d) == (False, "no-data")  # the REPL's force_on would switch on blind
    reading(d, board, 500)
    assert apply(d) == (True, policy.MANUAL_ON)
    board.up += 31  # stale
    assert apply(d)[0] is False
    reading(d, board, 500)
    d.policy.rules.min_off = 60
    assert apply(d) == (False, "min-off")
    board.up += 60
    reading(d, board, 500)
    assert apply(d) == (True, policy.MANUAL_ON)


def test_bad_commands_are_ignored_and_change_nothing():
    d, board = diverter()
    q = Q(d)
    reading(d, board, -3000)
    before = d.status()
    bad = [
        ("mode", b"ON"),
        ("mode", b""),
        ("mode", b"auto\x00"),
        ("mode", b"\xff\xfe"),
        ("on_min", b"0"),
        ("on_min", b"1441"),
        ("on_min", b"1.5"),
        ("on_min", b"-3"),
        ("on_min", b"1e3"),
        ("on_min", b"nan"),
        ("on_min", b"."),
        ("on_min", b"1.2.3"),
        ("max_import_w", b"99999999999"),
        ("max_import_w", b" 100"),
        ("boost_kwh", b"5"),  # no boost window
        ("reboot", b"1"),
        ("mode/x", b"off"),
    ]
    for name, value in bad:
        send(q, name, value)
    send(q, "mode", b"off", retained=1)  # an old retained command is not obeyed
    mqtt_cmd.run(q, b"elsewhere/mode/set", b"off")
    mqtt_cmd.run(q, b"%s//set" % BASE.encode(), b"off")
    mqtt_cmd.run(q, None, b"")  # too long to read
    after = d.status()
    for k in ("mode", "max_import_w", "boost_kwh"):
        assert after[k] == before[k], k
    assert q.on_min == 60 and apply(d) == (True, "surplus")


def test_numbers():
    assert mqtt_cmd.number(b"250", 0, 10000, True) == 250
    assert mqtt_cmd.number(b"2.5", 0, 100) == 2.5
    for bad in (b"", b"12345678901", b"1,5", b"+1", b"inf", b"0x10", b"1 "):
        raises(ValueError, mqtt_cmd.number, bad, 0, 10000)


def test_grid_allowance_and_boost_target():
    d, board = diverter(boost={"min_kwh": 0, "window": "01:00-05:00"})
    q = Q(d)
    send(q, "max_import_w", b"650")
    assert d.status()["max_import_w"] == 650
    send(q, "boost_kwh", b"3.5")
    assert d.status()["boost_kwh"] == 3.5
    assert d.policy.boost.remaining_wh == 0  # no window open: nothing to top up yet


def test_the_forced_on_minutes_are_kept_across_restarts():
    from test_mqtt_sec import CONFIG

    from firmware import mqtt

    d, board = diverter()
    board.unique_id = lambda: "abc"
    send(Q(d), "on_min", b"90")
    assert d.kept["on_min"] == 90  # saved with the other settings (settings.py)
    from firmware.diverter import Diverter

    d.save_settings()  # at the minute, or before a restart
    q = mqtt.Mqtt(dict(d.cfg, mqtt=dict(CONFIG)), board, d.link)
    assert q.on_min == 60
    again = Diverter(dict(d.cfg, mqtt=dict(CONFIG)), board, d.link, q)  # after a restart
    assert again.mqtt is q and q.d is again and q.on_min == 90  # the client starts from it


def test_home_assistant_online_asks_for_discovery():
    d, board = diverter()
    q = Q(d)
    mqtt_cmd.run(q, b"homeassistant/status", b"offline")
    assert q.discover is None
    mqtt_cmd.run(q, b"homeassistant/status", b"online")
    assert q.discover == 100 and q.dirty


def test_untrusted_bytes_are_shown_escaped_and_short():
    s = mqtt_cmd.shown(b"\x1b[2J" + b"A" * 100)
    assert "\x1b" not in s and s.endswith("...") and len(s) < 60


# From Home Assistant's homeassistant/components/mqtt/abbreviations.py: the keys discovery uses.
def test_discovery_payloads_are_json_on_one_device():
    # Home Assistant's own rules (abbreviations, device classes, templates rendered by Jinja)
    # are checked in host_tests/integration/test_ha_rules.py; here what both runtimes share.
    seen = set()
    for topic, payload in ha_configs("homeassistant", BASE, BASE, "brtBL"):
        component, node, oid, last = topic.split("/")[1:]
        assert topic.startswith("homeassistant/") and node == BASE and last == "config"
        # Sent in parts, never joined: discovery's largest block is its largest part.
        assert max(len(p) for p in payload) <= 450, topic
        assert component in ("sensor", "binary_sensor", "select", "number", "button"), topic
        c = json.loads(joined(payload))
        assert c["uniq_id"] == BASE + "_" + oid and c["uniq_id"] not in seen
        seen.add(c["uniq_id"])
        assert c["avty_t"] == "~/status" and c["~"] == BASE
        assert c["dev"]["ids"] == [BASE] and c["dev"]["sw"] and c["dev"]["mf"]
        assert c["dev"]["mdl"] != c["dev"]["name"]
        if component in ("select", "number", "button"):
            assert c["cmd_t"] == "~/%s/set" % oid
    assert len(seen) == len(rows()) == 23


def rows():
    # The entity table as the board reads it: six fields a row (a "|" inside a field, say a
    # template's filter, would shift the others, and row() refuses the line); lines that begin
    # with "+" continue the row before, and no line is longer than the board reads at once.
    with mqtt_ha.table() as f:
        lines = f.read().split("\n")[:-1]
    assert all(len(line) < 160 for line in lines)  # mqtt_ha._LINE_MAX
    rows = [line.split("|") for line in lines if line[0] != "+"]
    assert all(len(r) == 6 for r in rows)
    return rows


def test_what_the_board_does_not_offer_is_removed():
    empty = [t.split("/")[3] for t, p in ha_configs("ha", "b", "u", "") if p == b""]
    assert sorted(empty) == sorted(e[1] for e in rows() if e[5])
    # offered() reads the config as Diverter() builds from it (discovery runs at boot, before
    # the Diverter exists): the letters agree with the objects the Diverter made.
    for output, boost in (("relay", None), ("burst", {"min_kwh": 2, "window": "02:00-05:00"})):
        d, _ = diverter(output=output, boost=boost)
        made = (
            ("b", d.policy.boost is not None),
            ("r", hasattr(d.policy.rules, "max_import")),
            ("t", d.tank is not None),
            ("B", d.link.reading.battery is not None),
            ("L", d.output.burst),
        )
        want = "".join(c for c, yes in made if yes)
        assert mqtt_ha.offered(d.cfg, d.link.reading) == want == ("r" if boost is None else "bL")


def check(mqtt):
    raw = {
        "wifi": {"ssid": "x"},
        "enlighten": {"email": "a@b.c", "password": "p"},
        "envoy": {"host": "envoy.local"},
        "heater": {"relay_pin": 23, "power_w": 2000},
        "mqtt": mqtt,
    }
    cfg, errors, warnings = config.validate(raw)
    return cfg["mqtt"], " ".join(errors), " ".join(warnings)


def test_mqtt_config():
    m, errors, warnings = check({})
    assert m["host"] == "" and m["port"] == 1883 and m["prefix"] == "homeassistant"
    assert not errors and not warnings
    m, errors, _ = check({"host": "192.168.1.5", "user": "ha", "password": "pw", "topic": "a/b"})
    assert not errors and m["interval_s"] == 10
    assert "mqtt.host" in check({"host": "broker:1883"})[1]
    assert "mqtt.password" in check({"host": "h", "password": "pw"})[1]
    assert "mqtt.ca_file" in check({"host": "h", "tls": True})[1]
    for topic in ("a/#", "a/+/b", "/a", "a//b", "a b", "é", "x" * 65):
        assert "mqtt.topic" in check({"host": "h", "topic": topic})[1], topic
    assert "mqtt.prefix" in check({"host": "h", "prefix": ""})[1]
    assert "mqtt.port" in check({"host": "h", "port": 0})[1]
    assert "MQTT is off" in check({"user": "ha"})[2]
    _, errors, warnings = check({"host": "h", "user": "ha", "password": "s3cret-pw"})
    assert "s3cret" not in errors + warnings
