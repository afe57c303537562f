from firmware.compat import const

# Knowing the heater from the grid meter alone. When the relay closes, net power should rise by
# the heater's power. If it barely moves, the tank's thermostat is open: the tank is hot. A step
# seen twice alike becomes the learned power that the start rule uses. Pure logic, time passed in.
# Limit: a household load of the same size switching at the same moment can fool it.
# A burst output has no switch-on step: burst.observe() sees the heater in the changes of its
# share between two readings, with _step() and _thermostat() below.

SETTLE_S = 5  # the Envoy's CT readings follow a step within a couple of seconds
LATE_S = 20  # ... or later (issue 22): a step still missing is waited for this long
_HOT_BELOW = const(0.5)  # a step under half the rated power: the thermostat is open
_SAME_WITHIN = const(0.15)  # two steps this close are "consistent"
# a jump this big (of the learned power) while on: the thermostat switched
_THERMOSTAT = const(0.6)
_TOO_BIG = const(1.5)  # a step over this (of the rated power): something else switched on too


def plausible(rated_w, w):
    """A learned power read back from flash as an int, or None when it is not one that _learn
    could have produced for this rating (it averages steps between _HOT_BELOW and _TOO_BIG)."""
    if type(w) is not int and type(w) is not float:  # bool is not a number here
        return None
    # Half a watt either way: _learn rounds its average.
    if not _HOT_BELOW * rated_w - 0.5 <= w <= _TOO_BIG * rated_w + 0.5:  # false for nan, inf
        return None
    return int(round(w))


class Heater:
    def __init__(self, rated_w, learned_w=None):
        self.rated_w = rated_w
        self.learned_w = plausible(rated_w, learned_w)
        self.drawing = None  # True: heating; False: thermostat open (tank hot); None: unknown
        self.last_step = None  # the last switch-on step, W (learning compares two)
        self.jump = None  # the step or jump behind the last event, W, for its console line
        self._baseline = None
        self._on_at = None
        self._level = None
        self._share = None

    @property
    def power_w(self):
        return self.learned_w or self.rated_w

    def switched(self, now, on, net_before):
        self.drawing = None
        self._baseline = net_before if on else None
        self._on_at = now if on else None
        self._level = None

    def observe(self, now, net_w, relay_on):
        """Feed each fresh reading. Returns "heating", "tank-hot", "learned" or None."""
        if not relay_on or net_w is None:
            return None
        if self.drawing is None:
            if now - self._on_at < SETTLE_S:
                return None
            self._level = net_w
            if self._baseline is None:  # no reading before the switch: trust the label
                self.drawing, self.jump = True, None
                return "heating"
            step = net_w - self._baseline
            if step < _HOT_BELOW * self.rated_w and now - self._on_at < LATE_S:
                return None  # not yet: the readings may be late
            prev, self.last_step = self.last_step, step
            return self._step(step, prev, True)
        # While on, a sudden jump of about the heater's power is its thermostat switching.
        jump = net_w - self._level
        self._level += (net_w - self._level) * 0.3
        event = self._thermostat(jump)
        if event:
            self._level = net_w
        return event

    def _step(self, step, prev, learn):
        # A step of the heater's full power, measured: is it drawing, and how much?
        self.jump = step
        if step < _HOT_BELOW * self.rated_w:
            was, self.drawing = self.drawing, False
            return None if was is False else "tank-hot"
        was, self.drawing = self.drawing, True
        if learn and self._learn(step, prev):
            return "learned"
        return None if was is True else "heating"

    def _thermostat(self, jump):
        if self.drawing and jump <= -_THERMOSTAT * self.power_w:
            self.drawing, self.jump = False, jump
            return "tank-hot"
        if not self.drawing and jump >= _THERMOSTAT * self.power_w:
            self.drawing, self.jump = True, jump
            return "heating"
        return None

    def _learn(self, step, prev):
        if step > _TOO_BIG * self.rated_w:
            return False  # something else switched on at the same moment
        if prev is None or abs(step - prev) > _SAME_WITHIN * prev:
            return False
        new = (prev + step) / 2 if self.learned_w is None else (3 * self.learned_w + step) / 4
        self.learned_w = int(round(new))
        return True
