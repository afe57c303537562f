# The simulated board, for the unix port and CPython. Wi-Fi is up, the relay's level changes are
# printed, time comes from the host and storage is the current folder.
#
# DIVERTER_SIM (optional) = "speed=720,start=<unix>,anchor=<unix>,dir=<folder>" makes the clock run
# fast: simulated time = start + (host time - anchor) * speed. The simulated Envoy uses the same
# numbers, so both agree on the time. With "clock=virtual" time moves only when the board sleeps
# (a pass of the loop costs no time), and the board writes its seconds since boot to
# <folder>/time for the simulated Envoy: the same day then tells the same story on any machine;
# "stop=<seconds>" ends the run there, as a Ctrl-C would.
# Flag files in <folder> inject faults: wifi_down, clock_unset; the board writes the relay state
# ("1"/"0") to <folder>/relay for the simulated house, or in burst mode the share of full power
# that the chunk in play delivers and the world time at which it ends ("0.370 1736762400.000").
# <folder>/tank, if there, is what the simulated DS18B20 reads (firmware/tank_sim.py).
import os
import time

_params = {}
for _item in (os.getenv("DIVERTER_SIM") or "").split(","):
    if "=" in _item:
        _k, _v = _item.split("=", 1)
        _params[_k.strip()] = _v.strip()

SPEED = float(_params.get("speed", 1))
_ANCHOR = float(_params.get("anchor", 0)) or time.time()
_START = float(_params.get("start", 0)) or _ANCHOR
SIM_DIR = _params.get("dir")
VIRTUAL = _params.get("clock") == "virtual"
STOP = float(_params.get("stop", 0))  # virtual seconds after which a sleep is a Ctrl-C
_BOOT = time.time()
_virtual = [0.0]  # seconds since boot, in virtual time


def _told(name):
    try:
        with open(SIM_DIR + "/" + name) as f:
            return float(f.read())
    except (OSError, TypeError, ValueError):
        return 0.0


# The simulated world's time at this boot: after a machine.reset() the clock goes on (an RTC
# keeps time through a soft reset), while the uptime starts again from zero.
_BASE = _told("time") if VIRTUAL else 0.0


def _flag(name):
    if not SIM_DIR:
        return False
    try:
        os.stat(SIM_DIR + "/" + name)
        return True
    except OSError:
        return False


def _tell(name, text):
    # A file in SIM_DIR for the simulator, replaced atomically.
    if SIM_DIR:
        try:
            with open(SIM_DIR + "/" + name + ".tmp", "w") as f:
                f.write(text)
            os.rename(SIM_DIR + "/" + name + ".tmp", SIM_DIR + "/" + name)
        except OSError:
            pass  # a fault test filling the "flash" must not stop the simulated board


_claimed = []
RESET_STATUS = 77  # the process's exit status for machine.reset()


def claim_relay_pin(pin, active_high):
    if pin not in _claimed:  # boot.py claims it first; the app's claim changes nothing here
        _claimed.append(pin)
        print("board: relay GPIO%d set to its OFF level (%d)" % (pin, 0 if active_high else 1))


class Board:
    name = "simulated"

    def __init__(self, relay_pin, active_high=True):
        self.relay_pin = relay_pin
        self._on_level = 1 if active_high else 0
        self.relay_on = False
        self._clock_set = False
        self._wdt_timeout = None
        self._wdt_fed = 0
        self.watchdog_fired = False
        claim_relay_pin(relay_pin, active_high)
        self._publish()

    def relay(self, on):
        on = bool(on)
        if on != self.relay_on:
            level = self._on_level if on else 1 - self._on_level
            print(
                "board: relay GPIO%d level %d (%s)"
                % (self.relay_pin, level, "on" if on else "off")
            )
        self.relay_on = on
        self._publish()

    def _publish(self):
        _tell("relay", "1" if self.relay_on else "0")

    def burst(self, hz):
        from firmware.burst_sim import SimBurst  # only in burst mode

        return SimBurst(self, hz)

    def world(self):
        """The simulated world's time (Unix seconds, float): what the simulated Envoy counts in."""
        if VIRTUAL:
            return _START + _BASE + _virtual[0]
        return _START + (time.time() - _ANCHOR) * SPEED

    tell = staticmethod(_tell)

    def tank_sensor(self, pin):
        from firmware.tank_sim import SimProbe  # only with tank.pin set

        return SimProbe(self, SIM_DIR)

    def now(self):
        if not self._clock_set:
            return 946684800 + int(self.uptime())  # an ESP32 wakes up in 2000
        if VIRTUAL:
            return int(_START + _BASE + _virtual[0])
        return int(_START + (time.time() - _ANCHOR) * SPEED)

    def uptime(self):
        return _virtual[0] if VIRTUAL else (time.time() - _BOOT) * SPEED

    def sleep_ms(self, ms):
        if VIRTUAL:
            _virtual[0] += ms / 1000
            _tell("time", "%.3f" % (_BASE + _virtual[0]))
            if STOP and _BASE + _virtual[0] >= STOP:
                raise KeyboardInterrupt  # the end of the simulated day, at the same instant
        time.sleep(ms / 1000 / SPEED)

    def timeout(self, seconds):
        if VIRTUAL:
            return seconds  # waiting costs no virtual time; a slow host must not time out
        # Sockets count host seconds: shrink with the clock, but leave a TLS handshake time.
        return max(0.25, seconds / SPEED)

    def wifi_up(self):
        return not _flag("wifi_down")

    def wifi_connect(self, ssid, password):
        return self.wifi_up()

    def wifi_problem(self):
        return "simulated Wi-Fi drop"

    def sync_clock(self):
        self._clock_set = not _flag("clock_unset")
        return self._clock_set

    # The watchdog guards against real hangs, so it counts host seconds, not simulated ones.
    def wdt_start(self, timeout_s):
        self._wdt_timeout = timeout_s
        self._wdt_fed = time.time()

    def wdt_feed(self):
        if self._wdt_timeout is None:
            return
        t = time.time()
        if t - self._wdt_fed > self._wdt_timeout and not self.watchdog_fired:
            self.watchdog_fired = True
            print(
                "board: watchdog expired (%ds without a feed): a real board would reset"
                % (t - self._wdt_fed)
            )
        self._wdt_fed = t

    def wdt_relax(self):
        self._wdt_timeout = None

    def safe_mode(self):
        try:
            os.stat("safemode")
            return "the file safemode exists (delete it to start the diverter)"
        except OSError:
            return None

    def reset(self):
        # A real board starts again from boot.py; tools/board/hostboard.py does that on this
        # status.
        print("board: reset")
        raise SystemExit(RESET_STATUS)

    def unique_id(self):
        return _params.get("id", "5e0000d1e5e1")  # "id=" in DIVERTER_SIM: another board

    def reset_cause(self):
        # A host process starts from nothing, as after a power cut, unless tools/board/hostboard.py
        # started it again after a machine.reset().
        return "a software reset or a crash" if os.getenv("DIVERTER_RESET") else "power-on"
