# How late the Envoy's readings are, measured on the board from what it sees (pure; ints only).
# - The step: the output's share of each pass is kept (a ring); each fresh reading's change of
#   net power is compared with the change each candidate lag (1 to MAX_D passes) predicts from
#   the heater's power P and the shares delivered then. The candidate that explains the readings
#   best (least error, forgotten over about 32 informative readings; loads clipped) is the lag;
#   a neighbour nearly as good widens it to a window lo..hi, as readings 1-2 passes old are.
#   Only readings where the candidates disagree inform (the output moved).
# - The stamp: the board's clock (NTP) minus the Envoy's timestamp, at each fresh reading.
# - The update period: passes between fresh readings.
# The controller's model (window()) is the step's once it is sure, else the stamp's, else 1-2.
# Junk: a timestamp from the future or older than MAX_AGE_S is not counted (junk says which);
# a stuck timestamp gives no fresh readings (link.py), so it shows as a long update period.
from firmware.compat import const

_RING = const(32)  # passes of shares kept: the longest lag plus the longest period measured
MAX_D = const(15)  # the longest lag measured, passes
MAX_GAP = const(16)  # passes between two fresh readings beyond which no step is judged
MAX_AGE_S = const(60)  # a timestamp older than this is a wrong clock, not a lag
_SURE = const(24)  # informative readings before the step's lag is trusted
_INFORM = const(250)  # 1/1000 of P: the candidates must differ this much (a step, not a ramp)
_FORGET = const(5)  # costs decay by 1/32 per informative reading
FUTURE = "future"
OLD = "too-old"


class Lag:
    def __init__(self, poll_s=1):
        self.poll_s = poll_s  # seconds a pass takes, about: converts passes and seconds
        self.poll_ms = int(poll_s * 1000)  # the same, for int arithmetic (no heap per poll)
        self.ring = [0] * _RING  # the share (1/1000) delivered in each of the last passes
        self.i = 0  # the ring's next place
        self.cost = [0] * (MAX_D + 1)  # per candidate lag: its error, W x 32 (0 is unused)
        self.seen = 0  # informative readings so far
        self.gap = 0  # passes since the last fresh reading
        self.net = None  # the last fresh reading, W
        self.stamp = None  # its timestamp
        self.step_lo = self.step_hi = None  # the step's window, passes, once sure
        self.stamp16 = None  # the timestamps' age, 1/16 s (an average)
        self.period16 = None  # passes between fresh readings, 1/16 (an average)
        self.junk = None  # why the last timestamp was not counted

    def applied(self, share):
        """Each pass, once the output is set: the share of full power it delivers, 0..1000."""
        i = self.i
        self.ring[i] = share
        self.i = (i + 1) % _RING
        self.gap += 1

    def fresh(self, net, p, stamp=None, now=None):
        """A fresh reading (net W, + import) with the heater's power p W, the Envoy's timestamp
        and the board's clock (both Unix s; now None while the clock is not set)."""
        gap, self.gap = self.gap, 0
        if net is None:
            return
        net, p = int(net), int(p)
        if now is not None and stamp is not None:
            age = int(now - stamp)
            self.junk = FUTURE if age < 0 else (OLD if age > MAX_AGE_S else None)
            if self.junk is None:
                self.stamp16 = _mean(self.stamp16, age << 4)
        span = gap  # the passes between the two readings' samples: by the Envoy's clock if
        last, self.stamp = self.stamp, stamp  # it has one (ages that vary make gap wrong)
        if stamp is not None and last is not None:
            span = ((stamp - last) * 1000 + (self.poll_ms >> 1)) // self.poll_ms
        if self.net is not None and 0 < gap <= MAX_GAP:
            self.period16 = _mean(self.period16, gap << 4)
            if 0 < span <= MAX_GAP:
                self._step(net - self.net, p, span)
        self.net = net

    def _step(self, dn, p, gap):
        ring, i, cost = self.ring, self.i, self.cost
        lo = hi = None  # the range of the candidates' predicted changes, 1/1000
        for d in range(1, MAX_D + 1):
            ds = ring[(i - d) % _RING] - ring[(i - d - gap) % _RING]
            lo = ds if lo is None or ds < lo else lo
            hi = ds if hi is None or ds > hi else hi
        if hi - lo < _INFORM:
            return
        clip = p >> 1  # a load switching meanwhile costs every candidate alike
        for d in range(1, MAX_D + 1):
            ds = ring[(i - d) % _RING] - ring[(i - d - gap) % _RING]
            e = dn - p * ds // 1000
            e = -e if e < 0 else e
            cost[d] += (clip if e > clip else e) - (cost[d] >> _FORGET)
        self.seen += 1
        if self.seen < _SURE:
            return
        best = 1
        total = cost[1]
        for d in range(2, MAX_D + 1):
            total += cost[d]
            if cost[d] <= cost[best]:  # a tie: the longer lag (a model too short oscillates)
                best = d
        if cost[best] * MAX_D * 4 > total * 3:
            return  # no clear winner (readings that do not show the heater): keep the last
        lo = hi = best
        near = cost[best] + (cost[best] >> 2)  # within a quarter: the lag straddles two passes
        below = cost[best - 1] if best > 1 else near + 1
        above = cost[best + 1] if best < MAX_D else near + 1
        if below <= near and below <= above:
            lo = best - 1
        elif above <= near:
            hi = best + 1
        self.step_lo, self.step_hi = lo, hi

    def window(self):
        """(lo, hi): a fresh reading shows the shares delivered lo to hi passes before."""
        if self.step_lo is not None:
            return self.step_lo, self.step_hi
        if self.stamp16 is not None:
            d = self.stamp16 * 1000 // (self.poll_ms << 4)
            return (d, d + 1) if d > 0 else (1, 2)
        return 1, 2

    def span(self, lo, hi):
        """(least, most) of the shares (1/1000) delivered lo to hi passes before this pass."""
        r, i = self.ring, self.i
        least = most = r[(i - lo) % _RING]
        for d in range(lo + 1, hi + 1):
            x = r[(i - d) % _RING]
            least = x if x < least else least
            most = x if x > most else most
        return least, most

    def status(self):
        """The measurements in seconds (None: not known yet), for status()."""
        poll_s = self.poll_s
        lo, hi = self.window()
        return {
            "lag_s": (lo + hi) * poll_s / 2,
            "lag_step_s": None
            if self.step_lo is None
            else (self.step_lo + self.step_hi) * poll_s / 2,
            "lag_stamp_s": None if self.stamp16 is None else self.stamp16 / 16,
            "update_s": None if self.period16 is None else self.period16 * poll_s / 16,
            "lag_junk": self.junk,
        }


def _mean(avg, x):
    # An exponential average over about 8 values, first value as is (ints: no heap).
    return x if avg is None else avg + ((x - avg) >> 3)
