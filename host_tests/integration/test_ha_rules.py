# Home Assistant's own rules on the discovery the board sends (firmware/mqtt_ha.py): its
# abbreviations (homeassistant/components/mqtt/abbreviations.py, Apache-2.0: the keys used here),
# its sensor device classes and their units and state classes, and every value template rendered
# by Jinja, Home Assistant's template engine, in its sandbox, against every value the state can
# carry. A template that raises (round(None)) is an error in Home Assistant's log at every state
# message; an enum state outside its options is one too.
import json

import jinja2
import jinja2.sandbox
import pytest
from support import ha_configs, joined
from test_diverter import diverter

from firmware import mqtt, mqtt_ha

ABBREVIATIONS = {  # the abbreviations this board may use, with Home Assistant's full names
    "avty_t": "availability_topic",
    "cmd_t": "command_topic",
    "dev": "device",
    "dev_cla": "device_class",
    "ent_cat": "entity_category",
    "ic": "icon",
    "max": "max",
    "min": "min",
    "mode": "mode",
    "name": "name",
    "ops": "options",
    "pl_off": "payload_off",
    "pl_on": "payload_on",
    "pl_prs": "payload_press",
    "stat_cla": "state_class",
    "stat_t": "state_topic",
    "step": "step",
    "uniq_id": "unique_id",
    "unit_of_meas": "unit_of_measurement",
    "val_tpl": "value_template",
}
FULL_NAMES = {"payload_install", "title"}  # the update entity's, spelled out as HA accepts
DEVICE = {"ids", "name", "mf", "mdl", "sw"}
# homeassistant/components/sensor/const.py: the units each device class takes, and the state
# classes (None: no state class) it allows.
UNITS = {
    "power": {"W", "kW"},
    "energy": {"Wh", "kWh"},
    "duration": {"d", "h", "min", "s"},
    "temperature": {"\u00b0C", "\u00b0F"},
    "battery": {"%"},
}
STATE_CLASSES = {"energy": {None, "total", "total_increasing"}}
NUMBER_CLASSES = {"power", "energy", "duration"}
ENTITY_CATEGORIES = {"config", "diagnostic"}


def every_config():
    for t, p in ha_configs("homeassistant", "b", "u", "brtBL"):
        yield t.split("/")[1], json.loads(joined(p))


def test_every_key_is_home_assistants():
    for component, c in every_config():
        assert c.pop("~") == "b"
        for k in c:
            assert k in ABBREVIATIONS or k in FULL_NAMES, (component, k)
        assert set(c["dev"]) <= DEVICE and c["dev"]["mdl"] != c["dev"]["name"]
        if "ent_cat" in c:
            assert c["ent_cat"] in ENTITY_CATEGORIES


def test_device_classes_units_and_state_classes():
    for component, c in every_config():
        cla = c.get("dev_cla")
        if component == "sensor" and cla == "enum":
            assert c["ops"] and "unit_of_meas" not in c and "stat_cla" not in c, c
        elif component == "sensor" and cla:
            assert c["unit_of_meas"] in UNITS[cla], c
            allowed = STATE_CLASSES.get(cla, {None, "measurement"})
            assert c.get("stat_cla") in allowed, c
        if component == "number":
            assert c["dev_cla"] in NUMBER_CLASSES and c["unit_of_meas"] in UNITS[c["dev_cla"]]
            assert c["min"] < c["max"] and c["step"] > 0 and c["ent_cat"] == "config"


def render(template, state):
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    return str(env.from_string(template).render(value_json=state))


def states():
    """Status snapshots as the board publishes them, and each nullable key at null."""
    out = []
    for output in ("relay", "burst"):
        d, _ = diverter(output=output, boost={"min_kwh": 2, "window": "02:00-05:00"})
        s = d.status()
        s.update(battery_w=-1200, battery_soc=55, battery_first="heater", battery_problem=None)
        s = {k: s[k] for k in mqtt.STATE if k in s}
        s["on_min"] = 60
        out.append(s)
        nulls = dict(s)
        for k, v in s.items():
            if v is not None and k not in ("relay", "mode", "reason", "on_min", "battery_first"):
                nulls[k] = None
        out.append(nulls)
    full = dict(out[0], problem="envoy: timed out", notice="re-pinned: firmware A -> B")
    full.update(reason="tank-max", mode="manual-on", mode_left_min=5)
    return out + [full]


def test_every_template_renders_every_state():
    for component, c in every_config():
        tpl = c.get("val_tpl")
        if tpl is None:
            assert component == "button"
            continue
        for s in states():
            out = render(tpl, s)  # raises on an error, as Home Assistant logs one
            if component == "binary_sensor":
                assert out in (c["pl_on"], c["pl_off"], "None"), out
            elif "ops" in c:
                assert out in c["ops"], (c["name"], out)
            elif "unit_of_meas" in c:
                assert out == "None" or float(out) == float(out), (c["name"], out)
            else:
                assert out and out != "None", (c["name"], out)  # text: never "None"


def test_the_templates_of_1_1_raise_on_a_missing_token():
    # What this test catches: 1.1's token template, on the state without a token.
    with pytest.raises(TypeError):
        render("{{value_json.token_days|round(1)}}", {"token_days": None})


def test_every_reason_the_firmware_gives_is_an_option():
    import re

    from firmware import battery, burst, control, policy, reasons
    from firmware import diverter as dv

    given = set()
    for module in (control, burst, policy, reasons, battery, dv):
        for name in dir(module):
            v = getattr(module, name)
            if name.isupper() and type(v) is str and re.fullmatch(r"[a-z]+(-[a-z]+)*", v):
                given.add(v)
    for name in ("tank", "tank_rules"):  # a grid target's reason is its name
        with open(mqtt_ha.__file__.replace("mqtt_ha", name)) as f:
            given |= set(re.findall(r'[tT]arget\((?:target\(\), )?"([a-z-]+)"', f.read()))
    given -= {"auto", "diverting", "battery", "heater"}  # modes and priorities, not reasons
    reason = dict(ha_configs("ha", "b", "u"))["ha/sensor/u/reason/config"]
    assert given - set(json.loads(joined(reason))["ops"]) == set()
    assert {"hot-by", "legionella", "tank-max", "stale", "surplus"} <= given  # the scan works
