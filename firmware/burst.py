# The proportional output (a zero-cross SSR, heater.output = "burst"): pure logic, time passed in.
# Control: each fresh reading gives the heater's power in watts, from the learned heater power P:
#   heater-free net = reading - P x the heater's share in force when the reading was taken (the
#   Envoy's readings are late: lag.py keeps what the output delivered and measures the lag);
#   watts = export without the heater - TARGET_W (a slight export), plus a small integral trim
#   for what the model gets wrong (P, the lag); clipped to 0..P.
#   Decreases at once; increases at most P / STEP_UP per reading (half of P over a longer lag).
#   A lag over _LONG passes: the slow mode, move then wait (a raise only once every reading that
#   may show an older share has passed; a cut as far as surely needed). Stale data: 0 at once.
# observe(): the heater model (heater.py) in this mode. No switch-on step here: between two fresh
#   readings a change of the share by _SHARE_STEP or more is a step (heating, or tank hot when the
#   net hardly moves), by _LEARN_STEP or more one to learn the power from; while the share stays
#   full, a jump of about P is the thermostat. Changes are made at once only downwards, so most
#   steps are the heater cut back when a load came on: seen a reading later, the load steady.
# Pattern: the share as whole mains cycles (a pair of half-cycles: no DC), spread evenly inside
#   each window (<= 1 s), the rounding carried to the next window; or, for a window over 1 s,
#   one ON block at its start (fewer switchings: less flicker, README). Filled one chunk (about
#   a poll) ahead: the board plays it in hardware and it ends there unless renewed (the lease).
from firmware.compat import const
from firmware.lag import MAX_D, Lag

STALE = "stale"
NO_DATA = "no-data"
SURPLUS = "surplus"
LOW_EXPORT = "low-export"

TARGET_W = const(30)  # export aimed at: the meter should never count heater energy as import
STEP_UP = const(4)  # increases per reading at most P / STEP_UP
START = const(20)  # a start needs P / START: export hovering near the target is not a start
_TRIM_MAX = const(10)  # the trim stays within P / _TRIM_MAX
_TRIM_GAIN = const(4)  # the trim takes 1 / _TRIM_GAIN of each reading's error
_SHARE_STEP = const(200)  # in 1/1000 of full power
_LEARN_STEP = const(500)
_FULL = const(1000)  # shares in 1/1000: small ints, no heap on the board
_LONG = const(4)  # passes: a lag beyond this is too long for proportional control (README)
_SLOW_MARGIN = const(2)  # slow mode: passes waited beyond the lag's window before a raise
_FLAT = const(30)  # 1/1000: shares this close are one (whole cycles round them)


class Control:
    min_off = 0  # what policy.py asks of the relay rules before a boost: no minimum times here

    def __init__(self, c, now):
        self.lag = Lag(c.get("poll_s", 1))  # fed by see(), each fresh reading
        self.clock = _no_clock  # -> the board's Unix time, or None (burst_out.py sets it)
        self.stale_s = c["stale_s"]
        self.changed_at = now
        self.watts = 0  # the heater's power asked for, W
        self.trim = 0
        self._read_at = None  # board time at which the last reading handled became fresh
        self.slow = False  # the lag is too long for proportional control: move, then wait

    def switched(self, now):
        self.changed_at = now

    def applied(self, now, share):
        """The output delivers share (0..1) of full power from now on (each pass)."""
        self.lag.applied(int(share * _FULL))

    def lagged(self):
        """The share in force when this pass's fresh reading was taken, as far as the lag is
        known: the mean of the shares lo and hi passes before (lag.Lag.window())."""
        least, most = self.lag.span(*self.lag.window())  # a window spans two passes at most
        return (least + most) >> 1

    def status(self):
        """The lag's measurements and the mode, for the diverter's status(); lag_line: the
        summary line's part (reports.py)."""
        s = self.lag.status()
        s["burst_mode"] = "slow" if self.slow else "normal"
        s["lag_line"] = " lag_s=%g update_s=%s%s" % (
            s["lag_s"],
            "-" if s["update_s"] is None else "%.0f" % s["update_s"],
            " burst_mode=slow" if self.slow else "",
        )
        return s

    def see(self, heater, r):
        """This pass's fresh reading (a link.Reading): first for the lag, with the Envoy's
        timestamp and the board's clock, then for the heater model."""
        net = r.house_w
        self.lag.fresh(net, heater.power_w, r.stamp, self.clock())
        return observe(heater, net, self.lagged())

    def _stop(self, reason):
        self.watts = self.trim = 0
        self._read_at = None
        return 0, reason

    def decide(self, now, net_w, age_s, on, heater_w):
        """-> (share of full power 0..1, reason). age_s: seconds since the last fresh reading."""
        if net_w is None or age_s is None:
            return self._stop(NO_DATA)
        if age_s > self.stale_s:
            return self._stop(STALE)
        read_at = now - age_s
        p = int(heater_w)
        if self._read_at is None or read_at > self._read_at + 0.1:  # a fresh reading
            self._read_at = read_at
            self._follow(int(net_w), p)
        w = self.watts
        if w <= 0:
            return 0, LOW_EXPORT
        return (1 if w >= p else w / p), SURPLUS

    def _follow(self, net, p):
        lag = self.lag
        hi = lag.window()[1]
        self.slow = slow = hi > (_LONG - 1 if self.slow else _LONG)  # a pass of hysteresis
        flat = True  # the reading surely shows the share delivered now
        if slow:  # a cut only as far as surely needed (the most it may show), a raise once sure
            top = hi + _SLOW_MARGIN
            least, most = lag.span(1, top if top < MAX_D else MAX_D)
            shown, flat = most, most - least < _FLAT
        else:
            shown = self.lagged()
        free = net - p * shown // _FULL
        error = net + TARGET_W  # > 0: more import than the target
        w = -free - TARGET_W + self.trim
        # Integrate only while the heater runs (the trim corrects its model) and can still move
        # the way the error asks (no wind-up).
        if flat and self.watts > 0 and (error > 0 or self.watts < p):
            trim = self.trim - error // _TRIM_GAIN
            limit = p // _TRIM_MAX
            self.trim = -limit if trim < -limit else (limit if trim > limit else trim)
        w = 0 if w < 0 or (not self.watts and w < p // START) else (p if w > p else w)
        if slow:
            up = p if flat else self.watts
        else:  # at most half of P over the lag (a quarter a reading at 1-2 passes)
            up = self.watts + (p // STEP_UP if hi <= 2 else p // (STEP_UP * hi // 2))
        self.watts = up if w > up else w


def _no_clock():
    return None


def observe(h, net_w, share):
    """heater.Heater h, a fresh reading and the share (1/1000) in force when it was taken.
    Returns "heating", "tank-hot", "learned" or None, as Heater.observe."""
    prev_net, prev_share = h._level, h._share
    h._level, h._share = net_w, share
    if net_w is None or prev_net is None:
        return None
    if h.drawing is None and share:
        h.drawing, h.jump = True, None  # trust the label until a step says otherwise
        return "heating"
    change = share - prev_share
    jump = net_w - prev_net
    if change >= _SHARE_STEP or change <= -_SHARE_STEP:
        step = jump * _FULL // change
        learn = change >= _LEARN_STEP or change <= -_LEARN_STEP
        prev = h.last_step
        if learn:
            h.last_step = step
        return h._step(step, prev, learn)
    if change == 0 and share == _FULL:
        return h._thermostat(jump)
    return None


class Pattern:
    """Which mains cycles conduct, one chunk at a time. levels: the chunk's cycles, on or off
    (filled in place: no allocation per chunk)."""

    def __init__(self, window_s, hz, chunk_s, on=1, off=0):
        self.n = max(1, int(window_s * hz + 0.5))  # cycles in a window
        self.spread = window_s <= 1
        self.on, self.off = on, off
        self.levels = [off] * max(1, int(chunk_s * hz + 0.5))
        self.pos = 0  # the next cycle's place in its window
        self.k = 0  # ON cycles in this window (spread)
        self.carry = 0  # rounding carried between windows, in 1/1000 of a cycle

    def fill(self, share):
        """The next chunk for share (0..1) of full power. -> how many of its cycles conduct."""
        n = self.n
        want = int(share * _FULL) * n  # ON cycles per window, in 1/1000
        levels = self.levels
        count = 0
        for j in range(len(levels)):
            i = self.pos
            if self.spread:
                if i == 0:
                    total = want + self.carry
                    self.k = k = (total + _FULL // 2) // _FULL
                    self.carry = total - k * _FULL
                k = self.k
                on = (i + 1) * k // n > i * k // n
            else:
                on = i * _FULL < want - _FULL // 2  # the first round(share x n) cycles
            levels[j] = self.on if on else self.off
            count += on
            self.pos = 0 if i + 1 >= n else i + 1
        return count

    def stop(self):
        self.pos = 0
        self.carry = 0
