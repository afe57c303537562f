# Home Assistant's MQTT discovery: one small retained config message per entity, with the keys
# abbreviated as home-assistant.io/integrations/mqtt allows, all on one device, one JSON state
# topic and one availability topic. Loaded by mqtt.py while discovery is sent, then unloaded.
# Each payload is written as text from the table below (no dicts, no json.dumps) and sent in
# its parts, never joined: discovery's largest block is one part. Every value template renders
# every value the state can carry: a number or null ("None", which Home Assistant shows as
# unknown), text, or a fallback ("ok", "none"); never a filter that raises on null. An entity
# the board does not offer (no boost window, no battery...) gets an empty config, which removes
# it from Home Assistant.
from firmware import VERSION
from firmware.compat import const

_MAKER = const("Envoy Diverter project")
# Every reason the firmware gives: the enum sensor's options (host_tests/integration/
# test_ha_rules.py fails on a reason of the firmware's missing here), written as the JSON list
# wants them, so that they are sent as they are: discovery's largest part. The template does not
# repeat them (a reason from a later firmware comes with that firmware's discovery).
REASONS = (
    'boot","surplus","waiting-start","low-export","low-average","min-off","import","min-on",'
    '"no-data","stale","manual-on","manual-off","boost","tank-max","hot-by","legionella",'
    '"battery-charging","battery-discharging","battery-no-data","wifi-down","envoy-down",'
    '"no-token","no-ct","pin-mismatch","internal-error","stopped'
)
# One row per entity, its fields separated by "|" (one string a row: a tuple of six strings
# costs twice the heap while discovery runs): component, object id, name, the state's key or a
# template, extra keys, offered when: "" always, b a boost window, r the relay's grid allowance,
# t a tank sensor, B a battery site, L the burst output (its lag).
ENTITIES = (
    (
        "sensor|grid_w|Grid power|net_w|"
        '"unit_of_meas":"W","dev_cla":"power","stat_cla":"measurement"|'
    ),
    (
        "sensor|heater_w|Heater power|heating_w|"
        '"unit_of_meas":"W","dev_cla":"power","stat_cla":"measurement"|'
    ),
    (
        "sensor|today_kwh|Diverted today|today_kwh|"
        '"unit_of_meas":"kWh","dev_cla":"energy","stat_cla":"total_increasing"|'
    ),
    (
        "sensor|total_kwh|Diverted total|total_kwh|"
        '"unit_of_meas":"kWh","dev_cla":"energy","stat_cla":"total_increasing"|'
    ),
    (
        "sensor|grid_kwh|Heater energy from the grid|total_grid_kwh|"
        '"unit_of_meas":"kWh","dev_cla":"energy","stat_cla":"total_increasing"|'
    ),
    'binary_sensor|relay|Heater relay|relay|"dev_cla":"power","pl_on":"on","pl_off":"off"|',
    'sensor|reason|Reason|reason|"dev_cla":"enum","ic":"mdi:information-outline"|',
    (
        "sensor|problem|Problem|{{value_json.problem or 'ok'}}|"
        '"ic":"mdi:alert-outline","ent_cat":"diagnostic"|'
    ),
    (
        "sensor|notice|Last event|{{value_json.notice or 'none'}}|"
        '"ic":"mdi:history","ent_cat":"diagnostic"|'
    ),
    (
        "sensor|age_s|Data age|age_s|"
        '"unit_of_meas":"s","dev_cla":"duration","stat_cla":"measurement","ent_cat":"diagnostic"|'
    ),
    (
        "sensor|token_days|Token days left|token_days|"
        '"unit_of_meas":"d","dev_cla":"duration","ent_cat":"diagnostic"|'
    ),
    (
        "select|mode|Mode|"
        "{{{'manual-on':'on','manual-off':'off'}.get(value_json.mode,value_json.mode)}}|"
        '"ops":["auto","off","on"],"ic":"mdi:water-boiler"|'
    ),
    (
        "sensor|mode_left_min|Forced ON time left|mode_left_min|"
        '"unit_of_meas":"min","dev_cla":"duration"|'
    ),
    (
        "number|on_min|Forced ON minutes|on_min|"
        '"min":1,"max":1440,"mode":"box","step":1,"unit_of_meas":"min",'
        '"dev_cla":"duration","ent_cat":"config"|'
    ),
    (
        "number|max_import_w|Grid allowance|max_import_w|"
        '"min":0,"max":10000,"mode":"box","step":50,"unit_of_meas":"W","dev_cla":"power",'
        '"ent_cat":"config"|r'
    ),
    (
        "number|boost_kwh|Boost target|boost_kwh|"
        '"min":0,"max":100,"mode":"box","step":0.5,"unit_of_meas":"kWh",'
        '"dev_cla":"energy","ent_cat":"config"|b'
    ),
    (
        "sensor|boost_to_go_kwh|Boost still to go|boost_to_go_kwh|"
        '"unit_of_meas":"kWh","dev_cla":"energy"|b'
    ),
    (
        "sensor|tank_c|Tank temperature|tank_c|"
        '"unit_of_meas":"\\u00b0C","dev_cla":"temperature","stat_cla":"measurement"|t'
    ),
    (
        "sensor|battery_w|Battery power|battery_w|"
        '"unit_of_meas":"W","dev_cla":"power","stat_cla":"measurement"|B'
    ),
    (
        "sensor|battery_soc|Battery charge|battery_soc|"
        '"unit_of_meas":"%","dev_cla":"battery","stat_cla":"measurement"|B'
    ),
    (
        "sensor|battery_first|Battery priority|battery_first|"
        '"dev_cla":"enum","ops":["battery","heater"]|B'
    ),
    (
        "sensor|lag_s|Envoy lag|lag_s|"
        '"unit_of_meas":"s","dev_cla":"duration","stat_cla":"measurement","ent_cat":"diagnostic"|L'
    ),
    'button|repin|Re-pin the Envoy||"ic":"mdi:certificate","ent_cat":"config"|',
)


def offered(d):
    """The letters of ENTITIES' last column that this board offers now."""
    p = d.policy
    return "".join(
        c
        for c, yes in (
            ("b", p.boost is not None),
            ("r", hasattr(p.rules, "max_import")),
            ("t", getattr(d, "tank", None) is not None),
            ("B", d.link.reading.battery is not None),
            ("L", d.output.burst),
        )
        if yes
    )


def device(uid, burst):
    return (
        '{"ids":["%s"],"name":"Envoy Diverter","mf":"%s","mdl":"ESP32 %s diverter","sw":"%s"}'
        % (
            uid,
            _MAKER,
            "zero-cross SSR" if burst else "relay",
            VERSION,
        )
    )


def payload(entity, base, uid, dev):
    """One entity's discovery config (entity: its row's fields): its JSON text as a list of
    parts, which mqtt.publish writes one after another (never one large block of a fragmented
    heap)."""
    component, oid, name, value, extra, _ = entity
    parts = [
        '{"~":"%s","name":"%s","uniq_id":"%s_%s","avty_t":"~/status","dev":'
        % (base, name, uid, oid),
        dev,
        ",",
        extra,
    ]
    if oid == "reason":
        parts += (',"ops":["', REASONS, '"]')
    if component == "button":
        parts.append(',"cmd_t":"~/%s/set","pl_prs":"PRESS"}' % oid)
        return parts
    if value[0] != "{":
        value = "{{value_json.%s}}" % value
    parts += (',"stat_t":"~/state","val_tpl":"', value, '"')
    if component in ("select", "number"):
        parts.append(',"cmd_t":"~/%s/set"' % oid)
    parts.append("}")
    return parts


def configs(prefix, base, uid, offers="", start=0, burst=False):
    """(topic, payload) for each entity from the start'th, one at a time; offers: the letters
    of what the board offers (offered())."""
    dev = device(uid, burst)
    for i in range(start, len(ENTITIES)):
        e = ENTITIES[i].split("|")
        topic = "%s/%s/%s/%s/config" % (prefix, e[0], uid, e[1])
        yield topic, payload(e, base, uid, dev) if e[5] in offers else b""


def run(q):
    """Publish the entities' configs (retained) on q (an mqtt.Mqtt), from q.entity on, as far as
    this pass's time budget and the socket go; the rest in the next passes."""
    d = q.d
    offers = offered(d)
    q.battery_seen = "B" in offers  # a battery found or forgotten later: discovery again
    for topic, body in configs(q.m["prefix"], q.base, q.uid, offers, q.entity, d.output.burst):
        if q.left() <= 0 or not q.publish(topic, body, True):
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
        body = [
            '{"~":"%s","name":"Firmware","uniq_id":"%s_firmware","stat_t":"~/update",'
            '"cmd_t":"~/update/set","payload_install":"install","dev_cla":"firmware",'
            '"ent_cat":"config","title":"Envoy Diverter","avty_t":"~/status","dev":'
            % (q.base, q.uid),
            device(q.uid, q.d.output.burst),
            "}",
        ]
        if q.left() <= 0 or not q.publish(topic, body, True):
            return False
        q.entity += 1
    from firmware import update_ask
    from firmware.compat import unload

    try:
        return q.left() > 0 and q.publish(q.base + "/update", update_ask.state(), True)
    finally:
        unload("firmware.update_ask", "firmware.update_manifest", "firmware.update_slot")
