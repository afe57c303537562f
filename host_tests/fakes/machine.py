# A stand-in for the ESP32's machine module, for testing firmware/board_esp32.py on the host.
# Never deployed. Records what the firmware asked of the hardware.
log = []
button_held_after = None  # Pin(0).value() reads 0 from this many reads on; None: never


class Pin:
    OUT = "out"
    IN = "in"
    OPEN_DRAIN = "open_drain"  # onewire.OneWire's
    PULL_UP = "pull_up"
    levels = {}
    reads = 0

    def __init__(self, n, mode=None, pull=None, value=None):
        self.n = n
        if value is not None:
            Pin.levels[n] = value
            log.append(("init", n, mode, value))

    def init(self, mode=None, pull=None, value=None):
        Pin.levels[self.n] = value
        log.append(("init", self.n, mode, value))

    def value(self, v=None):
        if v is None:
            if self.n == 0:
                Pin.reads += 1
                return 0 if button_held_after is not None and Pin.reads > button_held_after else 1
            return Pin.levels.get(self.n)
        Pin.levels[self.n] = v
        log.append(("set", self.n, v))


class WDT:
    def __init__(self, timeout):
        log.append(("wdt", timeout))

    def feed(self):
        log.append(("feed",))


def reset():
    log.append(("reset",))


PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
cause = WDT_RESET


def reset_cause():
    return cause
