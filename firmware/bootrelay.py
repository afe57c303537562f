# Which relay pin boot.py drives OFF: the one in config.json, or, when that file is broken, the
# one kept in relay.json by the last config that passed the checks. Boot only: unloaded after.
CONFIG_BYTES = 16384  # config.MAX_BYTES (config.py is too big to import at boot)


def boot_relay(config="config.json", last="relay.json"):
    """Which pin boot.py drives OFF: ((pin, active_high) or None, a line to show or None). The
    pin of config.json if it is strict JSON (MicroPython's own json would read a broken file,
    perhaps without active_high); else the last one that passed the checks."""
    from firmware import store

    relay = _relay(_heater(config))
    if type(relay) is tuple:
        return relay, None
    saved, why = store.read(last)
    known = _relay(saved)
    if type(known) is tuple:
        line = "boot: %s %s; relay GPIO%d set OFF as in the last good config (%s)"
        return known, line % (config, relay, known[0], last)
    if saved is None:
        known = "is %s" % why if why else "is missing (no config has passed the checks yet)"
    line = "boot: %s %s and %s %s: the relay pin is unknown and left as it is"
    return None, line % (config, relay, last, known)


def _heater(path):
    # -> the heater section of config.json, or why there is none
    from firmware import strictjson
    from firmware.store import read_bytes

    data, why = read_bytes(path, CONFIG_BYTES)
    if data is None:
        return "is %s" % (why or "missing")
    try:
        raw = strictjson.loads(data, CONFIG_BYTES)
    except ValueError as e:
        return "is %s" % e
    return raw.get("heater") if type(raw) is dict else "is not an object {...}"


def _relay(heater):
    # -> (pin, active_high), or why not, for a "heater" object from config.json or RELAY_FILE
    if type(heater) is str:
        return heater
    if type(heater) is not dict:
        return "has no heater section"
    from firmware import pins

    pin, active_high = heater.get("relay_pin"), heater.get("active_high", True)
    why = pins.problem(pin)
    if why:
        return "has no usable relay pin (%s)" % why
    if type(active_high) is not bool:
        return "has no usable relay polarity (active_high is not true or false)"
    return pin, active_high
