# The one output path for a zero-cross SSR (heater.output = "burst"), loaded only in that mode.
# Each set() with a power above 0 fills the next chunk of whole mains cycles (burst.Pattern) and
# hands it to the board's driver, which plays it in hardware and then stops: each healthy pass
# renews the lease, so a hung interpreter leaves the heater OFF within a chunk (about a poll).
# set(0) takes the pin back to its OFF level at once, before anything that could fail.
# A console line when the heater starts and stops, with its share then; the share in between is
# in the summary (burst=on duty_pct=...), not a line for every change.
from firmware import console
from firmware.burst import Pattern
from firmware.output import Output


class BurstOutput(Output):
    burst = True

    def __init__(self, board, rules, heater, accounting, h, chunk_s, link):
        self.link = link
        rules.clock = self._clock  # the lag compares the Envoy's timestamps with it
        self.driver = board.burst(h["mains_hz"])
        d = self.driver
        self.pattern = Pattern(
            h["burst_window_s"], h["mains_hz"], chunk_s, d.on_level, d.off_level
        )
        self.cycles = len(self.pattern.levels)
        self.slow = False  # the rules' mode last told on the console
        super().__init__(board, rules, heater, accounting)

    def _clock(self):
        # The board's Unix time once NTP has set it, else None (burst.Control.clock).
        return self.board.now() if self.link.clock_ok else None

    def set(self, power, reason, detail="", net=None):
        on = power > 0
        if not on:
            self.driver.off()
        else:
            count = self.pattern.fill(power)
            self.driver.play(self.pattern.levels)
        up = self.board.uptime()
        self.reason = reason
        self.accounting.tick(up)  # the energy up to now, at the old power
        self.rules.applied(up, count / self.cycles if on else 0)
        if self.rules.slow != self.slow:
            self._mode()
        was = self.power > 0
        self.power = power
        if on == was:
            return
        if not on:
            self.pattern.stop()
        self.rules.switched(up)
        self.changes += 1  # starts and stops only: MQTT publishes the state on each
        console.log(
            "burst=%s reason=%s%s%s%s"
            % (
                "on" if on else "off",
                reason,
                " duty_pct=%d" % (power * 100) if on else "",
                " " + detail if detail else "",
                "" if net is None else " net_w=%d" % net,
            )
        )

    def _mode(self):
        self.slow = slow = self.rules.slow
        s = self.rules.lag.status()
        console.log(
            "burst: readings %g s late%s: %s"
            % (
                s["lag_s"],
                "" if s["update_s"] is None else ", a value every %.0f s" % s["update_s"],
                "slow mode (too late for proportional control)" if slow else "proportional",
            )
        )
