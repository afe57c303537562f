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


def configs(prefix, base, uid, boost, allowance=True, start=0, tank=True):
    """(topic, payload bytes) for each entity from the start'th, one at a time. boost: a boost
    window is set; allowance: the output has a grid allowance (the relay's; burst has none);
    tank: a tank sensor is. An entity the board does not offer gets an empty config (which
    removes it from Home Assistant)."""
    dev = {"ids": [uid], "name": "Envoy Diverter", "mdl": "Envoy Diverter", "sw": VERSION}
    for component, oid, name, value, extra in ENTITIES[start:]:
        topic = "%s/%s/%s/%s/config" % (prefix, component, uid, oid)
        if (
            oid == "boost_kwh"
            and not boost
            or oid == "max_import_w"
            and not allowance
            or oid == "tank_c"
            and not tank
        ):
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
    """Publish the entities' configs (retained) on q (an mqtt.Mqtt), from q.entity on, as far as
    this pass's time budget and the socket go; the rest in the next passes."""
    p = q.d.policy
    allowance = hasattr(p.rules, "max_import")
    tank = getattr(q.d, "tank", None) is not None
    for topic, payload in configs(
        q.m["prefix"], q.base, q.uid, p.boost is not None, allowance, q.entity, tank
    ):
        if q.left() <= 0 or not q.publish(topic, payload, True):
            return  # the rest in the next pass
        q.entity += 1
    if not _update(q):
        return
    q.discover, q.entity, q.discovered = None, 0, q.up


# The firmware's update entity (update.url set): installed and latest version, the release notes,
# "in progress" from the Install button until the board is back (the install runs at boot, before
# MQTT connects: no percentage). Its state has only the keys Home Assistant's schema takes
# (homeassistant/components/mqtt/update.py), on <base>/update; its command is <base>/update/set.


def _update(q):
    """The update entity's config, then its state, from where the last pass stopped (q.entity
    counts on past the entities); False: not all sent yet."""
    step = q.entity - len(ENTITIES)
    topic = "%s/update/%s/firmware/config" % (q.m["prefix"], q.uid)
    if not q.d.cfg["update"]["url"]:
        return q.publish(topic, b"", True)  # removes the entity
    if step == 0:
        c = {
            "~": q.base,
            "name": "Firmware",
            "uniq_id": q.uid + "_firmware",
            "stat_t": "~/update",
            "cmd_t": "~/update/set",
            "payload_install": "install",
            "dev_cla": "firmware",
            "ent_cat": "config",
            "title": "Envoy Diverter",
            "avty_t": "~/status",
            "dev": {
                "ids": [q.uid],
                "name": "Envoy Diverter",
                "mdl": "Envoy Diverter",
                "sw": VERSION,
            },
        }
        if q.left() <= 0 or not q.publish(topic, json.dumps(c).encode(), True):
            return False
        q.entity += 1
    from firmware import update_ask
    from firmware.compat import unload

    try:
        return q.left() > 0 and q.publish(q.base + "/update", update_ask.state(), True)
    finally:
        unload("firmware.update_ask", "firmware.update_manifest", "firmware.update_slot")
