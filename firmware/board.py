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
#   reset(), reset_cause()           restart the board; why this run began, in words
#   unique_id()                      this board's id, hex digits (MQTT names the device by it)
#   tank_sensor(pin)                 a DS18B20 driver (ds18x20's API), only with tank.pin set
import sys

__all__ = ("Board", "claim_relay_pin", "relay_off_at_boot", "remember_relay", "RELAY_FILE")

if sys.platform == "esp32":
    from firmware.board_esp32 import Board, claim_relay_pin
else:
    from firmware.board_sim import Board, claim_relay_pin

# The relay pin and polarity of the last config.json that validated, so that boot.py can still
# switch the relay OFF when config.json is broken (a soft reset keeps GPIO levels).
RELAY_FILE = "relay.json"


def remember_relay(heater, path=RELAY_FILE):
    """The app, once the config validated: keep its relay pin (written only when it changes)."""
    from firmware import store

    store.save(path, {"relay_pin": heater["relay_pin"], "active_high": heater["active_high"]})


def relay_off_at_boot(config="config.json", last=RELAY_FILE, claim=claim_relay_pin):
    """Drive the relay pin to its OFF level as early as possible (boot.py). A soft reset keeps
    GPIO levels, so without this a relay that was on would stay on until the app starts, or
    for good when config.json is broken."""
    from firmware.compat import unload

    try:
        from firmware.bootrelay import boot_relay

        relay, line = boot_relay(config, last)
    finally:
        unload("firmware.bootrelay", "firmware.strictjson", "firmware.pins")  # boot only
    if line:
        print(line)
    if relay:
        claim(relay[0], relay[1])
