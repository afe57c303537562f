# The burst output's hardware on an ESP32 (loaded only when heater.output is "burst"): the RMT
# peripheral plays a chunk of whole mains cycles while Python does other things, one RMT pulse
# per cycle (write_pulses mode 2: one duration, a level per cycle), and leaves the pin at its OFF
# level (idle_level) when the chunk ends: unless the loop has queued the next one, the heater
# stops. write_pulses waits for the chunk in play to end, so chunks follow without a gap and the
# loop is paced by them. Works with the RMT of MicroPython 1.23 (channel given, legacy driver) and
# of 1.25+ (channel ignored): clock_div, idle_level, write_pulses and wait_done are in both.
import esp32

from firmware.compat import const

_DIV = const(250)  # 80 MHz / 250 = 320 kHz: a cycle is well under PULSE_MAX (32767) ticks
_WAIT_MS = const(2500)  # longer than a chunk (config: poll_s <= 2)


class Rmt:
    def __init__(self, pin, on_level, hz):
        self._pin = pin  # the machine.Pin that board_esp32 claimed at its OFF level
        self.on_level, self.off_level = on_level, 1 - on_level
        # Ticks of one mains cycle: 6400 at 50 Hz from the usual 80 MHz source.
        self._ticks = (esp32.RMT.source_freq() // _DIV + hz // 2) // hz
        self._rmt = None
        self._old = None  # a channel let go of while its chunk may still run

    def play(self, levels):
        r = self._rmt
        if r is None:
            old = self._old
            if old is not None:
                # Released only once idle (stopping a long chunk can panic older ESP-IDFs): a
                # start right after a stop waits for the stopped chunk's end, a second at most.
                old.wait_done(timeout=_WAIT_MS)
                old.deinit()
                self._old = None
            r = self._rmt = esp32.RMT(
                0, pin=self._pin, clock_div=_DIV, idle_level=bool(self.off_level)
            )
        r.write_pulses(self._ticks, levels)

    def off(self):
        """At once: the pin becomes a plain output at its OFF level again, which takes it from
        the RMT; the channel is released later (play), when idle."""
        if self._rmt is None:
            return
        self._pin.init(self._pin.OUT, value=self.off_level)
        self._old, self._rmt = self._rmt, None
