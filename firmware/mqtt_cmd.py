# What arrives over MQTT: a command, or Home Assistant's birth message. Loaded by mqtt.py for
# each message, then unloaded. Commands only change policy through the Diverter's public
# methods (the REPL's), so the safety rules apply to them; each one is logged and acknowledged
# by the state, which is published at once. Bad ones are logged and ignored: nothing a message
# holds gets past run() as an exception (it would drop the connection).
from firmware import console
from firmware.mqtt import DISCOVERY_S


def run(q, topic, value, retained=0):
    """q: the mqtt.Mqtt; topic, value: bytes (topic None: a message too long to read)."""
    if topic is None:
        console.log("mqtt: ignored a message over 128 bytes (commands are short)")
        return
    if topic == (q.m["prefix"] + "/status").encode():
        if value == b"online" and q.discover is None:  # Home Assistant (re)started
            # Discovery again, at most once a minute: a flood of "online" costs one.
            q.discover = max(q.up, q.discovered + DISCOVERY_S)
            q.dirty = True
        return
    head = (q.base + "/").encode()
    if not (topic.startswith(head) and topic.endswith(b"/set")) or len(topic) <= len(head) + 4:
        console.log("mqtt: ignored a message on %s: not a command topic" % shown(topic))
    elif retained:
        console.log("mqtt: ignored a retained %s: only a fresh command is obeyed" % shown(topic))
    else:
        name = topic[len(head) : -4]
        try:
            command(q, name, value)
        except Exception as e:  # ValueError; or a bug: logged, the connection kept
            console.log("mqtt: ignored %s=%s: %s" % (shown(name), shown(value), e))


def command(q, name, value):
    q.dirty = True  # the state at once: the ack, and it undoes a bad value shown optimistically
    d = q.d
    v = None
    if name == b"mode":
        if value not in (b"auto", b"off", b"on"):
            raise ValueError("expected auto, off or on")
    elif name == b"on_min":
        v = number(value, 1, 1440, True)
    elif name == b"max_import_w":
        if not hasattr(d.policy.rules, "max_import"):
            raise ValueError("the burst output has no grid allowance")
        v = number(value, 0, 10000, True)
    elif name == b"boost_kwh":
        if d.policy.boost is None:
            raise ValueError("no boost window in config.json")
        v = number(value, 0, 100)
    elif name == b"update":
        v = _announced(value)
    elif name == b"repin":
        if value != b"PRESS":  # Home Assistant's button
            raise ValueError("expected PRESS")
    else:
        raise ValueError("no such command")
    console.log("mqtt: command %s=%s" % (name.decode(), value.decode()))
    if name == b"mode":
        if value == b"auto":
            d.auto()
        elif value == b"off":
            d.force_off()
        else:
            d.force_on(q.on_min, True)
    elif name == b"on_min":
        q.on_min = v
        d.set_on_min(v)  # kept on flash across restarts (settings.py)
    elif name == b"max_import_w":
        d.set_max_import(v)
    elif name == b"update":
        _install(q, v)
    elif name == b"repin":
        console.log(
            "envoy: re-pinning on the owner's word (Home Assistant): the next connection pins"
        )
        d.repin()
    else:
        d.set_boost(v)


# Home Assistant's update entity (mqtt_ha.py): its Install button installs the version the board
# announced (the last look's), never another one: the wish goes to update.json and the board
# restarts to install it at boot (update_ask.py). Loaded with this module only for that command.


def _announced(value):
    from firmware import update_ask
    from firmware.compat import unload

    try:
        if value != b"install":
            raise ValueError("expected install")
        o = update_ask.offer()
        if o is None:
            raise ValueError("no new release is known to this board")
        return o["version"]
    finally:
        unload("firmware.update_ask", "firmware.update_manifest", "firmware.update_slot")


def _install(q, version):
    from firmware import update_ask

    q.publish(q.base + "/update", update_ask.state(True), True)
    try:
        update_ask.install(q.d, version, "Home Assistant", True)  # the loop restarts the board
    except ValueError as e:
        console.log("mqtt: update not asked for: %s" % e)


def number(text, lo, hi, whole=False):
    """A plain decimal number (bytes) from lo to hi; ValueError for anything else."""
    bad = ValueError("expected a number from %s to %s" % (lo, hi))
    if not 0 < len(text) <= 10 or any(c not in b"0123456789." for c in text):
        raise bad
    v = float(text.decode())  # "1.2.3" and "." raise ValueError too
    if whole:
        if v != int(v):
            raise ValueError("expected a whole number")
        v = int(v)
    if not lo <= v <= hi:
        raise bad
    return v


def shown(b):
    """Untrusted bytes for the console: printable, and at most 40 of them."""
    return console.printable(b, 40)
