# What the app needs from the hardware: the relay pin, watchdog, Wi-Fi, NTP, time and safe mode.
# An ESP32 gets board_esp32; the unix port and CPython get the simulated board (board_sim).
# Both offer the same Board class:
#   Board(relay_pin, active_high)    the relay is driven OFF when the pin is claimed
#   relay(on), relay_on              switch the relay, and its state
#   now()                            Unix seconds (UTC); below clock.VALID_AFTER until NTP has run
#   uptime()                         monotonic seconds since boot, float, never wraps
#   sleep_ms(ms)
#   timeout(seconds)                 a network timeout, in the seconds the sockets count
#   wifi_connect(ssid, password), wifi_up(), wifi_problem()
#   sync_clock()                     NTP; True when the clock is now set
#   wdt_start(timeout_s), wdt_feed(), wdt_relax()
#   safe_mode()                      why the app must not start, or None
#   reset()
import sys

__all__ = ("Board", "claim_relay_pin", "relay_off_at_boot", "remember_relay", "RELAY_FILE")

if sys.platform == "esp32":
    from firmware.board_esp32 import Board, claim_relay_pin
else:
    from firmware.board_sim import Board, claim_relay_pin

# The relay pin and polarity of the last config.json that validated, so that boot.py can still
# switch the relay OFF when config.json is broken (a soft reset keeps GPIO levels).
RELAY_FILE = "relay.json"
CONFIG_BYTES = 16384  # config.MAX_BYTES (config.py is too big to import at boot)


def remember_relay(heater, path=RELAY_FILE):
    """The app, once the config validated: keep its relay pin (written only when it changes)."""
    from firmware import store

    store.save(path, {"relay_pin": heater["relay_pin"], "active_high": heater["active_high"]})


def boot_relay(config="config.json", last=RELAY_FILE):
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

    try:
        with open(path, "rb") as f:
            data = f.read(CONFIG_BYTES + 1)
    except OSError:
        return "is missing"
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


def relay_off_at_boot(config="config.json", last=RELAY_FILE, claim=claim_relay_pin):
    """Drive the relay pin to its OFF level as early as possible (boot.py). A soft reset keeps
    GPIO levels, so without this a relay that was on would stay on until the app starts, or
    for good when config.json is broken."""
    relay, line = boot_relay(config, last)
    if line:
        print(line)
    if relay:
        claim(relay[0], relay[1])
