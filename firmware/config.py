# config.json: defaults, types and ranges. One dict of defaults that the user's file overrides
# (the mqtt_as way); every problem is reported as one line naming the key.
from firmware import pins
from firmware.clock_text import hhmm, parse_window
from firmware.compat import const
from firmware.urls import split_host, split_url

REQUIRED = object()
_BURST_POLL_S = const(2)  # firmware/burst_out.py plays at most this far ahead
DAY = 86400

# section -> key -> (kind, default, low, high). Kinds: "str", "int", "num", "bool", or a tuple
# of allowed strings. Keys starting with "_" are comments (see config.example.json).
SCHEMA = {
    "wifi": {
        "ssid": ("str", REQUIRED, 1, 32),
        "password": ("str", "", 0, 64),
    },
    "enlighten": {
        "email": ("str", "", 0, 254),
        "password": ("str", "", 0, 256),
        "login_url": ("url", "https://enlighten.enphaseenergy.com/login/login.json", 0, 0),
        "token_url": ("url", "https://entrez.enphaseenergy.com/tokens", 0, 0),
        "ca_file": ("str", "", 0, 128),
    },
    "envoy": {
        "host": ("host", REQUIRED, 0, 0),
        "serial": ("str", "", 0, 32),
        "token": ("token", "", 0, 0),
        "pin": ("pin", "tofu", 0, 0),
    },
    "heater": {
        "power_w": ("int", REQUIRED, 100, 12000),
        "relay_pin": ("gpio", REQUIRED, 0, 39),
        "active_high": ("bool", True, 0, 0),
        "output": (("relay", "burst"), "relay", 0, 0),
        "burst_window_s": ("num", 1, 0.1, 600),
        "mains_hz": ((50, 60), 50, 0, 0),
    },
    "control": {
        "poll_s": ("num", 1, 0.2, 60),
        "max_import_w": ("int", 300, 0, 10000),
        "start_delay_s": ("num", 0, 0, DAY),
        "stop_delay_s": ("num", 30, 0, DAY),
        "min_on_s": ("num", 300, 0, DAY),
        "min_off_s": ("num", 300, 0, DAY),
        "stale_s": ("num", 30, 1, DAY),
    },
    "clock": {
        "utc_offset_min": ("int", 0, -720, 840),
        "dst": (("eu", "us", "none"), "none", 0, 0),
    },
    "battery": {
        "priority": (("battery", "heater"), "battery", 0, 0),
        "min_soc": ("int", 50, 0, 100),
    },
    "boost": {
        "min_kwh": ("num", 0, 0, 100),
        "window": ("window", "", 0, 0),
    },
    "tank": None,  # a DS18B20 on the tank: its keys in tank_config.py, loaded only for one
    "mqtt": {
        "host": ("str", "", 0, 64),  # empty: no MQTT at all
        "port": ("int", 1883, 1, 65535),
        "user": ("str", "", 0, 64),
        "password": ("str", "", 0, 128),
        "tls": ("bool", False, 0, 0),
        "ca_file": ("str", "", 0, 128),
        "prefix": ("topic", "homeassistant", 0, 0),
        "topic": ("topic", "", 0, 0),  # empty: derived from the board's unique id
        "interval_s": ("num", 10, 1, 3600),
        "keepalive_s": ("int", 30, 5, 600),  # Home Assistant shows the board gone after 1.5 x
    },
    "update": {
        "url": ("url?", "", 0, 0),  # the release's HTTPS folder; empty: no updates over the air
        "check_h": ("num", 24, 1, 8760),
        "auto": ("bool", False, 0, 0),
        "ca_file": ("str", "", 0, 128),  # a DER root instead of the bundled ones
        "pin": ("sha256?", "", 0, 0),  # the server certificate's SHA-256 (alone: no CA check)
    },
}

# Keys of earlier versions: a warning names what took their place. Never an error: an update
# must not leave the diverter stopped because of a config.json written for the version before.
RETIRED = {
    "control.start_margin_w": "gone in 1.1 and ignored; remove it: control.max_import_w is the one"
    " trade-off setting now (see the README)",
}

_TYPE_NAMES = {"str": "text", "int": "a whole number", "num": "a number", "bool": "true or false"}


def _json_type(v):
    if type(v) is bool:
        return "true/false"
    if type(v) is int or type(v) is float:
        return "a number"
    if type(v) is str:
        return "text"
    if v is None:
        return "null"
    return "a list" if type(v) is list else "an object"


def _check_special(kind, value):
    # -> error text or None, for the kinds with their own grammar
    try:
        if kind == "host":
            split_host(value)
        elif kind == "url":
            split_url(value)
        elif kind == "window":
            if value:
                parse_window(value)
        elif kind == "url?":
            if value:
                split_url(value)
        elif kind == "pin" or kind == "sha256?":
            if value not in (("tofu", "off") if kind == "pin" else ("",)):
                v = value.replace(":", "").lower()
                if len(v) != 64 or any(c not in "0123456789abcdef" for c in v):
                    raise ValueError(
                        'expected "tofu", "off" or the 64 hex digits of a SHA-256'
                        if kind == "pin"
                        else 'expected "" or the 64 hex digits of a SHA-256'
                    )
        elif kind == "token":
            if value:
                from firmware import jwt

                jwt.decode(value)
        elif kind == "gpio":
            p = pins.problem(value)
            if p:
                raise ValueError(p)
        elif kind == "topic":
            _check_topic(value)
        elif kind == "hhmm":
            if value:
                hhmm(value)
    except ValueError as e:
        return str(e)
    return None


def _check(section, key, spec, value, errors, warnings):
    kind, _, lo, hi = spec
    name = "%s.%s" % (section, key)
    if type(kind) is tuple:  # 50.0 == 50 and True == 1: the type must be the choices' too
        if value not in kind or type(value) is not type(kind[0]):
            whole = " (whole numbers)" if type(kind[0]) is int and type(value) is float else ""
            errors.append(
                "%s: %r is not one of %s%s" % (name, value, ", ".join(map(str, kind)), whole)
            )
        return value
    want_str = kind in (
        "str",
        "host",
        "url",
        "url?",
        "window",
        "pin",
        "sha256?",
        "token",
        "topic",
        "hhmm",
    )
    if want_str:
        if type(value) is not str:
            errors.append("%s: expected text, got %s" % (name, _json_type(value)))
            return value
        if kind == "str" and not lo <= len(value) <= hi:
            errors.append("%s: length %d is out of range (%d to %d)" % (name, len(value), lo, hi))
        elif kind != "str":
            problem = _check_special(kind, value)
            if problem:
                errors.append("%s: %s" % (name, problem))
        return value
    if kind == "bool":
        if type(value) is not bool:
            errors.append("%s: expected true or false, got %s" % (name, _json_type(value)))
        return value
    is_int = type(value) is int
    if not (is_int or (kind == "num" and type(value) is float)):
        want = "a whole number" if kind in ("int", "gpio", "onewire") else "a number"
        errors.append("%s: expected %s, got %s" % (name, want, _json_type(value)))
        return value
    if kind == "onewire":
        if value != -1:  # a tank sensor: its checks only then (tank_config.py)
            _tank("pin", name, value, errors, warnings)
        return value
    if kind == "gpio":
        problem = _check_special(kind, value)
        if problem:
            errors.append("%s: %s" % (name, problem))
        else:
            caution = pins.caution(value)
            if caution:
                warnings.append("%s: %s" % (name, caution))
        return value
    if not lo <= value <= hi:
        errors.append("%s: %s is out of range (%s to %s)" % (name, value, lo, hi))
    return value


def validate(raw):
    """raw: the parsed JSON. Returns (config with defaults applied, errors, warnings)."""
    errors, warnings = [], []
    if type(raw) is not dict:
        return None, ["config.json: expected an object {...} at the top level"], warnings
    cfg = {}
    for section in sorted(raw):
        if section[:1] != "_" and section not in SCHEMA:
            errors.append("%s: unknown section (a typo?)" % section)
    for section in sorted(SCHEMA):
        keys = SCHEMA[section]
        given = raw.get(section, {})
        if keys is None:  # the tank: without the section, no sensor and none of its checks
            if section not in raw:
                cfg[section] = {"pin": -1}
                continue
            keys = _tank("schema")
        if type(given) is not dict:
            errors.append("%s: expected an object {...}, got %s" % (section, _json_type(given)))
            given = {}
        for key in sorted(given):
            if key[:1] != "_" and key not in keys:
                name = "%s.%s" % (section, key)
                if name in RETIRED:
                    warnings.append("%s: %s" % (name, RETIRED[name]))
                else:
                    errors.append("%s: unknown key (a typo?)" % name)
        out = {}
        for key in sorted(keys):
            spec = keys[key]
            if key in given:
                out[key] = _check(section, key, spec, given[key], errors, warnings)
            elif spec[1] is REQUIRED:
                errors.append("%s.%s: missing, and it has no default" % (section, key))
            else:
                out[key] = spec[1]
        cfg[section] = out
    _check_mistakes(cfg, errors)
    _check_credentials(cfg, errors)
    _check_control(cfg, warnings, errors)
    _check_mqtt(cfg, errors, warnings)
    _check_update(cfg["update"], warnings)
    t = cfg["tank"]
    if t.get("pin") != -1 or any(t.get(k) for k in t if k not in ("pin", "litres")):
        if not [e for e in errors if e.startswith("tank.")]:  # one thing at a time
            _tank("check", cfg, errors, warnings)
    return cfg, errors, warnings


def _tank(name, *args):
    # The tank section's checks, loaded only for a config that has one.
    from firmware.compat import unload

    try:
        return getattr(__import__("firmware.tank_config", None, None, (name,)), name)(*args)
    finally:
        unload("firmware.tank_config")


def _check_credentials(cfg, errors):
    cloud, envoy = cfg["enlighten"], cfg["envoy"]
    email, password = cloud.get("email"), cloud.get("password")
    if envoy.get("token"):
        return  # a pasted token: the cloud is never contacted
    if email and not password:
        errors.append("enlighten.password: missing; the board needs it to get the Envoy token")
    elif password and not email:
        errors.append("enlighten.email: missing; the board needs it to get the Envoy token")
    elif not email:
        errors.append(
            "enlighten.email and enlighten.password: missing; give your Enlighten login "
            "(or paste a token in envoy.token) so the board can talk to the Envoy"
        )
    elif "@" not in email:
        errors.append("enlighten.email: %r is not an e-mail address" % email)


# The mistakes people make, each told with its fix. A message here replaces the generic one for
# its key (a range or grammar error), if there is one.

PLACEHOLDERS = (  # config.example.json's; test_config.py keeps them in step
    ("wifi", "ssid", "MyHomeWiFi", "your Wi-Fi network's name"),
    ("wifi", "password", "wifi-password", 'your Wi-Fi password ("" for an open network)'),
    (
        "enlighten",
        "email",
        "you@example.com",
        "your Enlighten login (or paste a token in envoy.token)",
    ),
    ("enlighten", "password", "enlighten-password", "your Enlighten password"),
)


def _fix(errors, name, text):
    for i in range(len(errors) - 1, -1, -1):
        if errors[i].startswith(name + ":"):
            del errors[i]
    errors.append("%s: %s" % (name, text))


def _check_mistakes(cfg, errors):
    token = cfg["envoy"].get("token")
    for section, key, example, fix in PLACEHOLDERS:
        if cfg[section].get(key) == example and not (token and section == "enlighten"):
            _fix(errors, section + "." + key, "%r is the example's; put %s" % (example, fix))
    host = cfg["envoy"].get("host")
    if type(host) is str and "://" in host:
        scheme, rest = host.split("://", 1)
        _fix(
            errors,
            "envoy.host",
            'give the address alone, without "%s://": "%s"' % (scheme, rest.split("/")[0]),
        )
    power = cfg["heater"].get("power_w")
    if type(power) in (int, float) and 0 < power <= 12:
        _fix(
            errors,
            "heater.power_w",
            "%s looks like kilowatts; give watts: %d" % (power, int(power * 1000 + 0.5)),
        )
    offset = cfg["clock"].get("utc_offset_min")
    if type(offset) is int and offset % 15:
        _fix(
            errors,
            "clock.utc_offset_min",
            "%d looks like hours; give minutes: %d" % (offset, offset * 60)
            if -12 <= offset <= 14
            else "%d is not a whole quarter hour; give minutes from UTC, e.g. 60 for central "
            "Europe, -300 for New York, 330 for India" % offset,
        )
    _check_boost(cfg["boost"], errors)


def _check_boost(b, errors):
    kwh, window = b.get("min_kwh"), b.get("window")
    if type(kwh) not in (int, float) or type(window) is not str:
        return
    if [e for e in errors if e.startswith("boost.")]:
        return  # one thing at a time
    if kwh > 0 and not window:
        errors.append(
            "boost.window: missing; min_kwh %s needs the off-peak window to heat in, e.g. "
            '"01:00-05:00" (or set min_kwh to 0 for no boost)' % kwh
        )
    elif window and not kwh:
        errors.append(
            "boost.min_kwh: 0, so the window %s does nothing; give the kWh to reach each day, "
            'e.g. 3 (or set window to "" for no boost)' % window
        )


def _check_control(cfg, warnings, errors):
    c = cfg["control"]
    if cfg["heater"].get("output") == "burst" and type(c.get("poll_s")) in (int, float):
        if c["poll_s"] > _BURST_POLL_S:
            errors.append(
                "control.poll_s: %s s is too slow for heater.output burst (at most %d s): each "
                "poll renews the pattern" % (c["poll_s"], _BURST_POLL_S)
            )
    if type(c.get("stale_s")) in (int, float) and type(c.get("poll_s")) in (int, float):
        if c["stale_s"] < 2 * c["poll_s"]:
            warnings.append(
                "control.stale_s: %s s is under two polls (%s s each); one slow reply will "
                "switch the relay off" % (c["stale_s"], c["poll_s"])
            )


_TOPIC_CHARS = const("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _check_topic(value):
    # MQTT topic levels of plain characters: no wildcards, no empty levels, nothing to quote.
    if len(value) > 64:
        raise ValueError("longer than 64 characters")
    for level in value.split("/") if value else ():
        if not level or any(c not in _TOPIC_CHARS for c in level):
            raise ValueError(
                "%r: use letters, digits, _ and - between single slashes (no spaces, +, #)" % value
            )


def _check_mqtt(cfg, errors, warnings):
    m = cfg["mqtt"]
    host = m.get("host")
    if type(host) is not str:
        return
    if not host:
        if any(m.get(k) for k in ("user", "password", "tls", "ca_file", "topic")):
            warnings.append("mqtt.host: empty, so MQTT is off and the other mqtt keys are unused")
        return
    if any(c not in _TOPIC_CHARS + "." for c in host):
        errors.append(
            "mqtt.host: %r is not a host name or IP address (the port goes in mqtt.port)" % host
        )
    if m.get("password") and not m.get("user"):
        errors.append("mqtt.password: given without mqtt.user")
    if m.get("tls") is True and not m.get("ca_file"):
        errors.append(
            "mqtt.ca_file: needed with mqtt.tls: the DER certificate of the CA that signed the "
            "broker's certificate"
        )
    if m.get("prefix") == "":
        errors.append("mqtt.prefix: empty; Home Assistant's default is homeassistant")


def _check_update(u, warnings):
    if type(u.get("url")) is not str:
        return
    if not u["url"]:
        if u.get("auto") is True or u.get("ca_file") or u.get("pin"):
            warnings.append(
                "update.url: empty, so there are no updates and the other keys are unused"
            )
        return
    from firmware import release_key

    if release_key.N is None:
        warnings.append(
            "update.url: this firmware trusts no release key (firmware/release_key.py), so every "
            "update is refused; see the README, Updates"
        )


MAX_BYTES = 16384  # config.example.json, with its comments, is 3.4 KB


def load(path="config.json"):
    """Read and check config.json. Returns (config or None, errors, warnings)."""
    from firmware.store import read_bytes

    data, why = read_bytes(path, MAX_BYTES)
    if data is None:
        if why:
            return None, ["%s: %s; is it the right file?" % (path, why)], []
        return (
            None,
            ["%s: not found; copy config.example.json to %s and fill it in" % (path, path)],
            [],
        )
    try:
        raw = parse(data)
    except ValueError as e:
        return None, ["%s: %s" % (path, e)], []
    return validate(raw)


def parse(data):
    """The JSON value in data (bytes), accepted and refused alike on the board and on a PC:
    ValueError says what is wrong and on which line."""
    from firmware import strictjson

    return strictjson.loads(data, MAX_BYTES)
