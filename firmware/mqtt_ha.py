# Home Assistant's MQTT discovery: one small retained config message per entity, with the keys
# abbreviated as home-assistant.io/integrations/mqtt allows, all on one device, one JSON state
# topic and one availability topic. Loaded by mqtt.py while discovery is sent, then unloaded.
import json

from firmware import VERSION

_W = {"unit_of_meas": "W", "dev_cla": "power", "stat_cla": "measurement"}
_KWH = {"unit_of_meas": "kWh", "dev_cla": "energy", "stat_cla": "total_increasing"}
_DIAG = "diagnostic"
_CONF = "config"
# (component, object id, name, the state's key (and a filter) or a whole template, extra keys).
# A select's or a number's command topic is "<base>/<object id>/set".
ENTITIES = (
    ("sensor", "grid_w", "Grid power", "net_w", _W),
    ("sensor", "heater_w", "Heater power", "heating_w", _W),
    ("sensor", "today_kwh", "Diverted today", "today_kwh|round(3)", _KWH),
    ("sensor", "total_kwh", "Diverted total", "total_kwh|round(3)", _KWH),
    ("sensor", "grid_kwh", "Heater energy from the grid", "total_grid_kwh|round(3)", _KWH),
    (
        "binary_sensor",
        "relay",
        "Heater relay",
        "relay",
        {"dev_cla": "power", "pl_on": "on", "pl_off": "off"},
    ),
    ("sensor", "reason", "Reason", "reason", {"ic": "mdi:information-outline"}),
    ("sensor", "problem", "Problem", "problem", {"ic": "mdi:alert-outline", "ent_cat": _DIAG}),
    (
        "sensor",
        "age_s",
        "Data age",
        "age_s",
        {"unit_of_meas": "s", "dev_cla": "duration", "stat_cla": "measurement", "ent_cat": _DIAG},
    ),
    (
        "sensor",
        "token_days",
        "Token days left",
        "token_days|round(1)",
        {"unit_of_meas": "d", "dev_cla": "duration", "ent_cat": _DIAG},
    ),
    (
        "select",
        "mode",
        "Mode",
        "{{{'manual-on':'on','manual-off':'off'}.get(value_json.mode,value_json.mode)}}",
        {"ops": ["auto", "off", "on"], "ic": "mdi:water-boiler"},
    ),
    (
        "number",
        "on_min",
        "Forced ON minutes",
        "on_min",
        {"min": 1, "max": 1440, "step": 1, "mode": "box", "unit_of_meas": "min", "ent_cat": _CONF},
    ),
    (
        "number",
        "max_import_w",
        "Grid allowance",
        "max_import_w",
        {"min": 0, "max": 10000, "step": 50, "mode": "box", "unit_of_meas": "W", "ent_cat": _CONF},
    ),
    (
        "number",
        "boost_kwh",
        "Boost target",
        "boost_kwh",
        {
            "min": 0,
            "max": 100,
            "step": 0.5,
            "mode": "box",
            "unit_of_meas": "kWh",
            "ent_cat": _CONF,
        },
    ),
    (
        "sensor",
        "tank_c",
        "Tank temperature",
        "tank_c",
        {"unit_of_meas": "\u00b0C", "dev_cla": "temperature", "stat_cla": "measurement"},
    ),
)


def configs(prefix, base, uid, boost, tank=True):
    """(topic, payload bytes) for each entity, one at a time. boost: a boost window is set;
    tank: a tank sensor is (run() says which). Without one, its entity's config is empty (which
    removes it from Home Assistant)."""
    dev = {"ids": [uid], "name": "Envoy Diverter", "mdl": "Envoy Diverter", "sw": VERSION}
    for component, oid, name, value, extra in ENTITIES:
        topic = "%s/%s/%s/%s/config" % (prefix, component, uid, oid)
        if (oid == "boost_kwh" and not boost) or (oid == "tank_c" and not tank):
            yield topic, b""
            continue
        c = {
            "~": base,
            "name": name,
            "uniq_id": "%s_%s" % (uid, oid),
            "stat_t": "~/state",
            "val_tpl": value if value[0] == "{" else "{{value_json.%s}}" % value,
            "avty_t": "~/status",
            "dev": dev,
        }
        if component in ("select", "number"):
            c["cmd_t"] = "~/%s/set" % oid
        c.update(extra)
        yield topic, json.dumps(c).encode()


def run(q):
    """Publish every entity's config (retained) on q's client (an mqtt.Mqtt)."""
    boost = q.d.policy.boost is not None
    tank = getattr(q.d, "tank", None) is not None
    for topic, payload in configs(q.m["prefix"], q.base, q.uid, boost, tank):
        q.client.publish(topic, payload, True)
