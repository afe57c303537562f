# The only code that changes the heater's power. Every change is logged with its reason and told
# to the rules (minimum times), the heater model (it measures the step) and the energy count.
# OFF is driven first and allocates nothing, so set(0, ...) works when memory has run out; if the
# bookkeeping after it fails, the next call does it again.
from firmware import console


class Output:
    burst = False  # burst_out.BurstOutput: a zero-cross SSR

    def __init__(self, board, rules, heater, accounting):
        self.board = board
        self.rules = rules
        self.heater = heater
        self.accounting = accounting
        self.power = 0  # as far as the rules and counters know; the pin itself goes first
        self.reason = "boot"
        self.changes = 0  # counts switches: MQTT publishes the state on every change

    def set(self, power, reason, detail="", net=None):
        """power: 0 to 1 (a relay switches on at any power above 0); net: the grid's last
        reading, the baseline the heater model measures its step from."""
        on = power > 0
        if not on:
            self.board.relay(False)
        self.reason = reason
        if on == (self.power > 0):
            return
        if on:
            self.board.relay(True)
        up = self.board.uptime()
        self.accounting.tick(up)  # the energy up to now, at the old power
        self.rules.switched(up)
        self.heater.switched(up, on, net)
        self.power = 1 if on else 0
        self.changes += 1
        console.log(
            "relay=%s reason=%s%s%s"
            % (
                "on" if on else "off",
                reason,
                " " + detail if detail else "",
                "" if net is None else " net_w=%d" % net,
            )
        )

    def apply(self, decision, net=None):
        self.set(decision.power, decision.reason, decision.detail, net)

    def off(self, reason, detail=""):
        self.set(0, reason, detail)
