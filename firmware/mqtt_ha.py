# Home Assistant's MQTT discovery: one small retained config message per entity, with the keys
# abbreviated as home-assistant.io/integrations/mqtt allows, all on one device, one JSON state
# topic and one availability topic. Loaded by mqtt.py while discovery is sent, then unloaded.
# The entities are rows of a table on flash (ha_entities.txt beside this module), read a line at
# a time: the table's text is never in RAM at once (in this module it cost 2-3 KB of heap at
# discovery, MQTT's peak). Each payload is written as text (no dicts, no json.dumps) and sent in
# its parts, never joined: discovery's largest block is one line. Every value template renders
# every value the state can carry: a number or null ("None", which Home Assistant shows as
# unknown), text, or a fallback ("ok", "none"); never a filter that raises on null. An entity
# the board does not offer (no boost window, no battery...) gets an empty config, which removes
# it from Home Assistant.
#
# A row: component|object id|name|the state's key or a template|extra keys|offered when ("" always,
# b a boost window, r the relay's grid allowance, t a tank sensor, B a battery site, L the burst
# output). Lines that begin with "+" continue the row's extra keys: every line stays short, since
# readline(n) takes n bytes at once, and a fragmented heap has few long free runs. The reason's
# row lists every reason the firmware gives (host_tests/integration/test_ha_rules.py fails on a
# reason missing there); the template does not repeat them.
from firmware import VERSION, console
from firmware.compat import const

_MAKER = const("Envoy Diverter project")
_TABLE = const("ha_entities.txt")
_LINE_MAX = const(160)  # a line of the table, at most: the flash is untrusted input too
_MORE_MAX = const(4)  # continuation lines of one row
_NOT_A_ROW = const("ha_entities.txt: a line is not an entity's row")
_UPDATE = const(-1)  # q.entity: the rows are sent (else the next row's offset in the table)
_UPDATE_STATE = const(-2)  # the update entity's config is sent, its state next
_POLLOUT = const(4)  # select's


def table():
    """The entity table, open for reading: beside this module, or at the root of the flash (a
    frozen firmware keeps no folder named firmware)."""
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    try:
        return open(here + "/" + _TABLE)
    except OSError:
        return open(_TABLE)


def row(f):
    """The next row's six fields from the open table (its extra keys a list of their lines), or
    None at its end; ValueError for a line that is not a row (a damaged or foreign file)."""
    line = f.readline(_LINE_MAX)
    if not line:
        return None
    e = line.split("|")
    if len(e) != 6 or line[-1] != "\n" or len(e[1]) > 32:
        raise ValueError(_NOT_A_ROW)
    e[5] = e[5][:-1]
    extra = e[4] = [e[4]]
    for _ in range(_MORE_MAX):
        at = f.tell()
        line = f.readline(_LINE_MAX)
        if line[:1] != "+":
            f.seek(at)  # the next row's
            break
        if line[-1] != "\n":
            raise ValueError(_NOT_A_ROW)
        extra.append(line[1:-1])
    return e


def offered(cfg, reading):
    """The letters of the rows' last field that this board offers now: what the config sets up
    (as Diverter() builds it), and a battery once the link has found one."""
    burst = _burst(cfg)
    t = cfg.get("tank")
    return "".join(
        c
        for c, yes in (
            ("b", bool(cfg["boost"]["window"])),
            ("r", not burst),  # the relay's grid allowance
            ("t", bool(t and t["pin"] >= 0)),
            ("B", reading.battery is not None),
            ("L", burst),
        )
        if yes
    )


def _burst(cfg):
    return cfg["heater"].get("output") == "burst"


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
    """One entity's discovery config (entity: a row's fields, from row()): its JSON text as a
    list of parts, which mqtt.publish writes one after another (never one large block of a
    fragmented heap)."""
    component, oid, name, value, extra, _ = entity
    parts = [
        '{"~":"%s","name":"%s","uniq_id":"%s_%s","avty_t":"~/status","dev":'
        % (base, name, uid, oid),
        dev,
        ",",
    ]
    parts += extra
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


def config(e, prefix, base, uid, offers, dev):
    """(topic, payload) of one row's entity; its payload b"" (removed) unless offered."""
    topic = "%s/%s/%s/%s/config" % (prefix, e[0], uid, e[1])
    return topic, payload(e, base, uid, dev) if e[5] in offers else b""


def run(q, boot_ms=0):
    """Publish the entities' configs (retained) on q (an mqtt.Mqtt), from the row at offset
    q.entity on, as far as this pass's time budget and the socket go; the rest in the next
    passes. boot_ms: at boot (startup.py), all of it within that time, waiting for the socket.
    A table that cannot be read is said, and the rest of discovery goes on without it (the
    state is still published)."""
    if boot_ms:
        return _at_boot(q, boot_ms)
    cfg = q.cfg
    offers = offered(cfg, q.link.reading)
    q.battery_seen = "B" in offers  # a battery found or forgotten later: discovery again
    if q.entity >= 0:
        try:
            if not _rows(q, offers, device(q.uid, _burst(cfg))):
                return  # the rest in the next pass
        except (OSError, ValueError) as e:
            console.problem("mqtt: Home Assistant's entities not sent: %s" % (e,))
        q.entity = _UPDATE
    if not _update(q):
        return
    q.discover, q.entity, q.discovered = None, 0, q.up


def _at_boot(q, ms):
    from firmware.compat import ticks_diff, ticks_ms

    start = ticks_ms()
    try:
        while q.discover is not None:
            left = ms - ticks_diff(ticks_ms(), start)
            if left <= 0:
                return
            if q.out is None:
                q.t0, q.spent = ticks_ms(), 0  # a pass's budget, again and again
                run(q)
            elif q.ready(_POLLOUT, left):
                q._flush()
    except Exception as e:  # the connection failed: dropped with back-off, as in a pass
        q._link(q.up, e)


def _rows(q, offers, dev):
    # True once every row is sent; False: the budget or the socket ran out first.
    with table() as f:
        f.seek(q.entity)
        while q.left() > 0:
            e = row(f)
            if e is None:
                return True
            topic, body = config(e, q.m["prefix"], q.base, q.uid, offers, dev)
            if not q.publish(topic, body, True):
                return False
            q.entity = f.tell()
    return False


# The firmware's update entity (update.url set): installed and latest version, the release notes,
# "in progress" from the Install button until the board is back (the install runs at boot, before
# MQTT connects: no percentage). Its state has only the keys Home Assistant's schema takes
# (homeassistant/components/mqtt/update.py), on <base>/update; its command is <base>/update/set.


def _update(q):
    """The update entity's config, then its state, from where the last pass stopped; False: not
    all sent yet."""
    topic = "%s/update/%s/firmware/config" % (q.m["prefix"], q.uid)
    if not q.cfg["update"]["url"]:
        return q.publish(topic, b"", True)  # removes the entity
    if q.entity == _UPDATE:
        body = [
            '{"~":"%s","name":"Firmware","uniq_id":"%s_firmware","stat_t":"~/update",'
            '"cmd_t":"~/update/set","payload_install":"install","dev_cla":"firmware",'
            '"ent_cat":"config","title":"Envoy Diverter","avty_t":"~/status","dev":'
            % (q.base, q.uid),
            device(q.uid, _burst(q.cfg)),
            "}",
        ]
        if q.left() <= 0 or not q.publish(topic, body, True):
            return False
        q.entity = _UPDATE_STATE
    from firmware import update_ask
    from firmware.compat import unload

    try:
        return q.left() > 0 and q.publish(q.base + "/update", update_ask.state(), True)
    finally:
        unload("firmware.update_ask", "firmware.update_manifest", "firmware.update_slot")
