from firmware.compat import const

# The tank's rules on its measured temperature, run once a minute by tank.py (loaded for it and
# unloaded after: its code would otherwise stay in the heap) on the state it keeps (tank.Plan):
# no more diverting at max_c (tank.py applies the limit and its hysteresis every pass), hot
# water (min_c) by a time of day, and a legionella cycle (legionella_c) at least once every 7
# days. Grid heat comes just in time: a target heats from the grid only once the time left
# before its deadline is what the heater needs for the missing degrees (the tank's litres, the
# heater's learned power, a margin), so that the day's surplus has done all it could first.
# The legionella deadline rolls: 7 days after the day the tank last read legionella_c (kept on
# flash by tank.py), so a sunny day that got there saves the week's grid cycle. While a cycle is
# near (_EARLY_DAYS) or due, surplus may heat past max_c up to legionella_c.
# Pure: local wall-clock seconds, the temperature (None: unknown) and the heater's power come in;
# the plan's `heat` (the target heating from the grid now, or None), `limit` and `notes` (tuples
# that tank_say.py puts in words) go out.

WH_PER_LITRE_K = 1.163  # water: 4186 J per kg and kelvin
_MARGIN = const(1.25)  # a probe is not the tank's average; losses and draws go on while it heats
_SLACK_MIN = const(15)
MAX_LEAD_MIN = 480  # the evening target never starts more than 8 hours ahead
REARM_K = 1  # a target reached may heat again before its deadline once this far below
_CYCLE_DAYS = const(7)
_EARLY_DAYS = const(2)
_DAY_MIN = const(1440)


def plan(p, target, t, reached_day=None):
    """The Plan p made from the config's tank section t, with Targets of the class target:
    once, at the start (the code stays out of the heap after)."""
    from firmware.clock_text import hhmm, parse_window

    p.max_c = t["max_c"]
    p.min_c = t["min_c"]
    p.leg_c = t["legionella_c"]
    p.litres = t["litres"]
    p.targets = []  # the legionella cycle first: it wins
    if p.leg_c:
        start, end = parse_window(t["legionella_window"])
        p.targets.append(_target(target(), "legionella", p.leg_c, end, (end - start) % 1440))
    if p.min_c:
        p.targets.append(_target(target(), "hot-by", p.min_c, hhmm(t["hot_by"]), 480))
    p.reached_day = reached_day
    p.dirty = False  # reached_day changed: to be saved
    p.limit = p.max_c  # the temperature at which diverting stops now (0: none)
    p.full = False
    p.heat = None  # the Target heating from the grid now
    p.minute = None  # when the rules last ran
    p.blind = True  # they ran without a temperature
    p.notes = []
    return p


def _target(x, reason, goal_c, end, longest):
    # goal_c by the minute `end` of each day, from the grid for at most `longest` minutes
    # before it (want()).
    x.reason = reason
    x.goal = goal_c
    x.end = end
    x.longest = longest
    x.on = False
    x.deadline = None  # the absolute minute of the deadline heated for
    x.done = None  # a deadline given up (its time passed, the thermostat): not again
    x.reached = None  # a deadline met: again only REARM_K under the goal
    return x


def lead_min(deficit_k, power_w, litres):
    """Minutes the heater needs to raise the tank by deficit_k, with the margin."""
    if power_w <= 0:
        return MAX_LEAD_MIN
    return int(deficit_k * litres * WH_PER_LITRE_K / power_w * 60 * _MARGIN) + _SLACK_MIN


def due_in(p, day):
    """Days until the legionella deadline (0: due now), or None without a cycle."""
    if not p.leg_c:
        return None
    if p.reached_day is None:
        return 0
    return max(0, p.reached_day + _CYCLE_DAYS - day)


def update(p, local, c, power_w):
    """A minute's verdict on plan p (tank.Plan)."""
    p.heat = None
    if c is None:  # no temperature: everything as without a sensor
        _pause(p, "sensor")
        return
    left = None if local is None else due_in(p, local // 86400)
    if left is not None:
        day = local // 86400
        if p.reached_day is not None and p.reached_day > day:
            p.notes.append(("future", None))
            p.reached_day = None
            left = 0
        if c >= p.leg_c and p.reached_day != day:
            p.reached_day, p.dirty = day, True  # once a day: the deadline rolls
            if left <= _EARLY_DAYS:  # it counted: said; a hot summer's day is not news
                p.notes.append(("reached", None, c))
            left = _CYCLE_DAYS
    p.limit = p.max_c
    if p.max_c and left is not None and left <= _EARLY_DAYS:
        p.limit = max(p.max_c, p.leg_c)
    if local is None:
        _pause(p, "clock")
        return
    for t in p.targets:  # the legionella cycle first
        if (t.reason != "legionella" or left == 0 or t.on) and want(t, local, c, power_w, p):
            p.heat = p.heat or t


def want(t, local, c, power_w, p):
    """Should target t (tank.Target) heat from the grid now?"""
    minute = local // 60
    left = (t.end - minute - 1) % _DAY_MIN + 1  # 1..1440: at `end` the next one is due
    deadline = minute + left
    if t.on and deadline != t.deadline:
        stop(t, p, "late", c)
    if t.on and c >= t.goal:
        stop(t, p, "done", c)
        t.done, t.reached = None, deadline
    low = t.goal - (REARM_K if t.reached == deadline else 0)
    if not t.on and t.done != deadline and c < low:
        need = lead_min(t.goal - c, power_w, p.litres)
        if left <= min(t.longest, need):
            t.on, t.deadline = True, deadline
            p.notes.append(("start", t, c, need))
    return t.on


def stop(t, p, what, c):
    if t.on:
        t.on, t.done = False, t.deadline
        p.notes.append((what, t, c))


def thermostat_open(p, c):
    """The heater model saw the element's thermostat open: the grid targets end for today
    (they would only cycle the relay against it)."""
    p.heat = None
    for t in p.targets:
        stop(t, p, "thermostat", c)


def _pause(p, why):
    for t in p.targets:
        if t.on:
            t.on = False  # not given up: it may start again once the reason has gone
            p.notes.append((why, t))
