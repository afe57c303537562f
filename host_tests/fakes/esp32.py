# A stand-in for the ESP32's esp32 module (its RMT), for testing firmware/burst_rmt.py on the
# host. Never deployed. A chunk "plays" until the test says it is done (RMT.done).
from machine import log


class RMT:
    done = True  # whether a chunk written earlier has ended

    @classmethod
    def source_freq(cls):
        return 80000000

    def __init__(self, channel, pin=None, clock_div=8, idle_level=False):
        self.pin = pin
        self.alive = True
        log.append(("rmt", pin.n, clock_div, idle_level))

    def write_pulses(self, duration, data=True):
        assert self.alive
        log.append(("pulses", duration, list(data)))

    def wait_done(self, timeout=0):
        log.append(("wait", timeout))
        return RMT.done

    def deinit(self):
        self.alive = False
        log.append(("deinit",))
