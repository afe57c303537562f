# Settings changed at run time (Home Assistant's number entities, the REPL): kept on flash so that
# a reboot does not undo them. Each is kept with the config.json value it replaced: once the
# owner edits config.json, the file wins again. Written only on change, at most once a minute
# (the diverter's minute), atomically. The file is untrusted: each value is range-checked.
from firmware import store

FILE = "settings.json"
KINDS = {  # name -> (low, high, whole number)
    "max_import_w": (0, 10000, True),
    "boost_kwh": (0, 100, False),
    "on_min": (1, 1440, True),
}


def _ok(name, v):
    lo, hi, whole = KINDS[name]
    if type(v) is not int and (whole or type(v) is not float):
        return False
    return lo <= v <= hi


def load(defaults, path=FILE):
    """{name: value} of the kept settings whose config value is still the one they replaced.
    defaults: {name: the config's value now}."""
    saved = store.load(path)
    out = {}
    if type(saved) is not dict:
        return out
    for name, pair in saved.items():
        if name not in KINDS or name not in defaults or type(pair) is not list or len(pair) != 2:
            continue
        base, value = pair
        if base == defaults[name] and _ok(name, value):
            out[name] = value
    return out


def save(kept, defaults, path=FILE):
    """kept: {name: value}; each is stored with the config value it replaces."""
    return store.save(path, {k: [defaults.get(k), v] for k, v in kept.items() if k in KINDS})
