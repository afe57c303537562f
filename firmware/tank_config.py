# The config's tank section, checked (config.py loads this only for a config that has one):
# the DS18B20's pin and each rule's keys together, every mistake named with its fix.
from firmware import pins

# The DS18B20's data pin: -1 (none) or a GPIO that can pull the bus low, with its 4.7 kOhm
# pull-up to 3.3 V, which is held at every reset.
_ONEWIRE_CAUTION = {
    0: "GPIO 0 is the BOOT button's strapping pin; the pull-up keeps its normal level, but a "
    "sensor holding the line low at reset starts the ROM bootloader",
    2: "GPIO 2 is a strapping pin that must be low to flash the board; the pull-up can stop "
    "esptool from flashing it",
    5: "GPIO 5 is a strapping pin; it works (the pull-up keeps its normal level), but prefer 4",
    15: "GPIO 15 is a strapping pin; it works (the pull-up keeps its normal level), but prefer 4",
}


def schema():
    """The tank section's keys, as config.SCHEMA gives the other sections'; pin -1: no sensor,
    and none of its code loads."""
    return {
        "pin": ("onewire", -1, 0, 0),
        "max_c": ("num", 0, 0, 90),  # 0: no limit but the element's thermostat
        "min_c": ("num", 0, 0, 80),  # 0: no evening target
        "hot_by": ("hhmm", "", 0, 0),
        "litres": ("int", 200, 30, 2000),
        "legionella_c": ("num", 0, 0, 80),  # 0: no cycle
        "legionella_window": ("window", "", 0, 0),
    }


def pin(name, gpio, errors, warnings):
    problem = pins.problem(gpio)
    if gpio in pins.INPUT_ONLY:
        problem = "GPIO %d is input-only: the 1-Wire bus needs a pin that can pull it low" % gpio
    elif gpio == 12:
        problem = (
            "GPIO 12 pulled up at reset sets the flash voltage to 1.8 V and the board does not "
            "boot; use 4, 13, 14, 16 to 19, 21 to 23, 25 to 27, 32 or 33"
        )
    if problem:
        errors.append("%s: %s (or -1 for no sensor)" % (name, problem))
        return
    caution = _ONEWIRE_CAUTION.get(gpio) or pins.caution(gpio)
    if caution:
        warnings.append("%s: %s" % (name, caution))


def check(cfg, errors, warnings):
    t = cfg["tank"]
    if t["pin"] == -1:
        if any(t[k] for k in t if k not in ("pin", "litres")):
            warnings.append("tank.pin: -1 (no sensor), so the other tank keys are unused")
        return
    if t["pin"] == cfg["heater"].get("relay_pin"):
        errors.append("tank.pin: GPIO %d is the relay's (heater.relay_pin)" % t["pin"])
    if 0 < t["max_c"] < 40:
        errors.append("tank.max_c: %s C is too cold for hot water (40 to 90, or 0)" % t["max_c"])
    if t["min_c"] and not t["hot_by"]:
        errors.append(
            'tank.hot_by: missing; min_c %s needs the time it is wanted by, e.g. "18:00" (or '
            "set min_c to 0)" % t["min_c"]
        )
    elif t["hot_by"] and not t["min_c"]:
        errors.append(
            "tank.min_c: 0, so hot_by %s does nothing; give the temperature, e.g. 45" % t["hot_by"]
        )
    if t["min_c"] and t["max_c"] and t["min_c"] > t["max_c"] - 5:
        errors.append(
            "tank.min_c: %s C must be at least 5 K under max_c (%s C)" % (t["min_c"], t["max_c"])
        )
    leg, window = t["legionella_c"], t["legionella_window"]
    if 0 < leg < 55:
        errors.append("tank.legionella_c: %s C does not kill legionella; 60 is usual" % leg)
    elif leg and not window:
        errors.append(
            "tank.legionella_window: missing; legionella_c needs the hours in which the grid may "
            'finish a cycle, e.g. "12:00-16:00" (surplus is used first)'
        )
    elif window and not leg:
        errors.append("tank.legionella_c: 0, so legionella_window does nothing; e.g. 60")
