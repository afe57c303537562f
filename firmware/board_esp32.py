# The real board: ESP32 with MicroPython 1.23 or newer. See board.py for the interface.
import os
import time

import machine
import network

from firmware.compat import EPOCH_OFFSET, const, sleep_ms, ticks_diff, ticks_ms

_BOOT_BUTTON = const(0)  # the BOOT key of ESP32 dev boards pulls GPIO0 low while held
SAFE_MODE_WINDOW_MS = const(1500)
REPL_WATCHDOG_S = const(3600)
_WIFI_TIMEOUT_MS = const(20000)


def claim_relay_pin(pin, active_high):
    # value= sets the level as the pin becomes an output: no glitch to ON.
    return machine.Pin(pin, machine.Pin.OUT, value=0 if active_high else 1)


class Board:
    name = "esp32"

    def __init__(self, relay_pin, active_high=True):
        self._on_level = 1 if active_high else 0
        self._pin = claim_relay_pin(relay_pin, active_high)
        self.relay_pin = relay_pin
        self.relay_on = False
        self._wlan = network.WLAN(network.STA_IF)
        self._wdt = None
        self._last = ticks_ms()
        self._up_ms = 0

    def relay(self, on):
        self._pin.value(self._on_level if on else 1 - self._on_level)
        self.relay_on = bool(on)

    def burst(self, hz):
        """The driver of a zero-cross SSR on the heater's pin (burst_rmt.py, loaded only then)."""
        from firmware.burst_rmt import Rmt

        return Rmt(self._pin, self._on_level, hz)

    def tank_sensor(self, pin):
        """The DS18B20 on this pin: micropython-lib's drivers, frozen in the ESP32 firmware."""
        import ds18x20
        import onewire

        return ds18x20.DS18X20(onewire.OneWire(machine.Pin(pin)))

    def now(self):
        return int(time.time()) + EPOCH_OFFSET

    def uptime(self):
        # ticks_ms wraps after about 12 days; accumulate the differences instead.
        t = ticks_ms()
        self._up_ms += ticks_diff(t, self._last)
        self._last = t
        return self._up_ms / 1000

    def sleep_ms(self, ms):
        sleep_ms(int(ms))

    def timeout(self, seconds):
        return seconds

    def wifi_up(self):
        return self._wlan.isconnected()

    def wifi_connect(self, ssid, password):
        self._wlan.active(True)
        if self._wlan.isconnected():
            return True
        self._wlan.connect(ssid, password)
        start = ticks_ms()
        while ticks_diff(ticks_ms(), start) < _WIFI_TIMEOUT_MS:
            if self._wlan.isconnected():
                return True
            # A negative-ish status (below STAT_IDLE) is a definite failure; stop waiting.
            # Wait a second first: status() reports stale errors right after connect().
            if ticks_diff(ticks_ms(), start) > 1000 and self._wlan.status() < 1000:
                break
            self.wdt_feed()
            sleep_ms(250)
        self._wlan.disconnect()
        return False

    def wifi_problem(self):
        s = self._wlan.status()
        return {
            200: "beacon timeout",
            201: "network not found (check wifi.ssid; the ESP32 needs 2.4 GHz)",
            202: "wrong Wi-Fi password",
            203: "association failed",
            204: "handshake timeout (often a wrong password)",
        }.get(s, "status %d" % s)

    def sync_clock(self):
        import ntptime

        ntptime.timeout = 2
        try:
            ntptime.settime()  # sets the RTC in UTC
        except (OSError, OverflowError):
            return False
        return self.now() >= 1704067200

    def wdt_start(self, timeout_s):
        self._wdt = machine.WDT(timeout=int(timeout_s * 1000))

    def wdt_feed(self):
        if self._wdt:
            self._wdt.feed()

    def wdt_relax(self):
        # The WDT cannot be stopped and survives a soft reset. At the REPL give the user an hour;
        # if they walk away, the board resets and the diverter comes back on its own.
        if self._wdt:
            self._wdt = machine.WDT(timeout=REPL_WATCHDOG_S * 1000)
            self._wdt.feed()

    def safe_mode(self):
        try:
            os.stat("safemode")
            return "the file /safemode exists (delete it to start the diverter)"
        except OSError:
            pass
        # BOOT held *during* reset starts the ROM bootloader instead, so watch for it for a
        # moment after boot: press it right after releasing EN/RST.
        button = machine.Pin(_BOOT_BUTTON, machine.Pin.IN, machine.Pin.PULL_UP)
        print("board: hold BOOT now for safe mode")
        for _ in range(SAFE_MODE_WINDOW_MS // 100):
            if button.value() == 0:
                return "the BOOT button was held"
            sleep_ms(100)
        return None

    def reset(self):
        machine.reset()

    def unique_id(self):
        from binascii import hexlify

        return hexlify(machine.unique_id()).decode()  # the Wi-Fi MAC: 12 hex digits

    def reset_cause(self):
        # ESP-IDF's reasons as MicroPython groups them (ports/esp32/modmachine.c): a brownout
        # counts as power-on, a crash (panic) as a soft reset, every watchdog as WDT_RESET.
        c = machine.reset_cause()
        for name, why in (
            ("PWRON_RESET", "power-on"),
            ("HARD_RESET", "the reset button"),
            ("WDT_RESET", "the watchdog"),
            ("DEEPSLEEP_RESET", "waking from deep sleep"),
            ("SOFT_RESET", "a software reset or a crash"),
        ):
            if c == getattr(machine, name, None):
                return why
        return "reset cause %s" % c
