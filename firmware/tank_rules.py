# The tank's rules on its measured temperature (firmware/tank.py reads it): no more diverting at
# max_c, hot water (min_c) by a time of day, and a legionella cycle (legionella_c) at least once
# every 7 days. Grid heat comes just in time: a target heats from the grid only once the time
# left before its deadline is what the heater needs for the missing degrees (the tank's litres,
# the heater's learned power, a margin), so that the day's surplus has done all it could first.
# The legionella deadline rolls: 7 days after the day the tank last read legionella_c (kept on
# flash by tank.py), so a sunny day that got there saves the week's grid cycle. While a cycle is
# near (EARLY_DAYS) or due, surplus may heat past max_c up to legionella_c.
# Pure: local wall-clock seconds, the temperature (None: unknown) and the heater's power come in;
# `heat` (the reason to heat from the grid now, or None), `full` and lines in `notes` go out.
from firmware.clock import parse_window

WH_PER_LITRE_K = 1.163  # water: 4186 J per kg and kelvin
MARGIN = 1.25  # a probe is not the tank's average; losses and draws go on while it heats
SLACK_MIN = 15
MAX_LEAD_MIN = 480  # the evening target never starts more than 8 hours ahead
HYST_K = 2  # full at the limit, diverting again below limit - HYST_K
REARM_K = 1  # a target reached may heat again before its deadline once this far below
CYCLE_DAYS = 7
EARLY_DAYS = 2
DAY_MIN = 1440

HOT_BY = "hot-by"
LEGIONELLA = "legionella"
TANK_MAX = "tank-max"


def hhmm(text):
    """'HH:MM' -> minute of the day; ValueError otherwise."""
    hm = text.split(":")
    if len(hm) != 2 or len(hm[1]) != 2 or not hm[0].isdigit() or not hm[1].isdigit():
        raise ValueError("expected a time of day HH:MM, for example 18:00")
    h, m = int(hm[0]), int(hm[1])
    if h > 23 or m > 59:
        raise ValueError("%s is not a time of day" % text)
    return h * 60 + m


def lead_min(deficit_k, power_w, litres):
    """Minutes the heater needs to raise the tank by deficit_k, with the margin."""
    if power_w <= 0:
        return MAX_LEAD_MIN
    hours = deficit_k * litres * WH_PER_LITRE_K / power_w
    return int(hours * 60 * MARGIN) + SLACK_MIN


class Target:
    """goal_c by the minute `end` of each day, from the grid for at most the last `longest`
    minutes before it; once reached, again before that deadline only REARM_K under goal_c (a
    shower), and never again once given up."""

    def __init__(self, reason, goal_c, end, longest):
        self.reason = reason
        self.goal = goal_c
        self.end = end
        self.longest = longest
        self.on = False
        self.deadline = None  # the absolute minute of the deadline heated for
        self.done = None  # a deadline given up (its time passed, the thermostat): not again
        self.reached = None  # a deadline met: again only REARM_K under the goal

    def want(self, local, c, power_w, litres, notes):
        minute = local // 60
        left = (self.end - minute - 1) % DAY_MIN + 1  # 1..1440: at `end` the next one is due
        deadline = minute + left
        if self.on and deadline != self.deadline:
            self.stop(notes, "its time passed at tank_c=%.1f, %.1f K short" % (c, self.goal - c))
        if self.on and c >= self.goal:
            self.stop(notes, "tank_c=%.1f reached" % c)
            self.done, self.reached = None, deadline
        low = self.goal - (REARM_K if self.reached == deadline else 0)
        if not self.on and self.done != deadline and c < low:
            need = lead_min(self.goal - c, power_w, litres)
            if left <= min(self.longest, need):
                self.on, self.deadline = True, deadline
                notes.append(
                    "tank: %s: heating from the grid to %g C by %02d:%02d (tank_c=%.1f, about "
                    "%d min)" % (self.reason, self.goal, self.end // 60, self.end % 60, c, need)
                )
        return self.on

    def stop(self, notes, why):
        if self.on:
            self.on, self.done = False, self.deadline
            notes.append("tank: %s: done, %s" % (self.reason, why))


class Rules:
    def __init__(self, t, reached_day=None):
        """t: the config's tank section; reached_day: the local day legionella_c was last read
        (tank.json), or None."""
        self.max_c = t["max_c"]
        self.min_c = t["min_c"]
        self.leg_c = t["legionella_c"]
        self.litres = t["litres"]
        self.evening = None
        if self.min_c:
            self.evening = Target(HOT_BY, self.min_c, hhmm(t["hot_by"]), MAX_LEAD_MIN)
        self.cycle = None
        if self.leg_c:
            start, end = parse_window(t["legionella_window"])
            self.cycle = Target(LEGIONELLA, self.leg_c, end, (end - start) % DAY_MIN)
        self.reached_day = reached_day
        self.dirty = False  # reached_day changed: tank.py saves it
        self.limit = self.max_c  # the temperature at which diverting stops now (0: none)
        self.full = False
        self.heat = None
        self.c = None
        self.notes = []

    def due_in(self, day):
        """Days until the legionella deadline (0: due now), or None without a cycle."""
        if not self.leg_c:
            return None
        if self.reached_day is None:
            return 0
        return max(0, self.reached_day + CYCLE_DAYS - day)

    def update(self, local, c, power_w):
        self.c = c
        self.heat = None
        if c is None:  # no temperature: everything as without a sensor
            self.full = False
            self._stop("no temperature (the sensor failed)")
            return
        day = None if local is None else local // 86400
        due = early = False
        if self.leg_c and day is not None:
            if self.reached_day is not None and self.reached_day > day:
                self.notes.append("tank: the legionella record is from the future; ignoring it")
                self.reached_day = None
            left = self.due_in(day)
            if c >= self.leg_c and self.reached_day != day:
                self.reached_day, self.dirty = day, True  # once a day: the deadline rolls
                if left <= EARLY_DAYS:  # it counted: said; a hot summer's day is not news
                    self.notes.append(
                        "tank: legionella_c=%g reached (tank_c=%.1f); the next cycle is due in "
                        "%d days" % (self.leg_c, c, CYCLE_DAYS)
                    )
                left = CYCLE_DAYS
            due, early = left == 0, left <= EARLY_DAYS
        limit = self.max_c
        if limit and early:
            limit = max(limit, self.leg_c)
        self.limit = limit
        self.full = limit > 0 and (c >= limit or (self.full and c > limit - HYST_K))
        if local is None:
            self._stop("no clock")
            return
        n = self.notes
        if self.cycle is not None and (due or self.cycle.on):
            if self.cycle.want(local, c, power_w, self.litres, n):
                self.heat = LEGIONELLA
        if self.evening is not None and self.evening.want(local, c, power_w, self.litres, n):
            self.heat = self.heat or HOT_BY

    def enough(self):
        """Hot enough that a kWh boost need not heat: at the limit, or at min_c."""
        return self.full or (self.min_c > 0 and self.c is not None and self.c >= self.min_c)

    def thermostat_open(self):
        """The heater model saw the element's thermostat open: the grid targets end for today
        (they would only cycle the relay against it)."""
        c = self.c
        why = "the element's thermostat opened at tank_c=%s" % ("-" if c is None else "%.1f" % c)
        for t in (self.cycle, self.evening):
            if t is not None and t.on:
                t.stop(self.notes, why + (" (set it above %g C)" % t.goal))

    def _stop(self, why):
        for t in (self.cycle, self.evening):
            if t is not None and t.on:
                t.on = False  # not done: it may start again once the reason has gone
                self.notes.append("tank: %s: stopped, %s" % (t.reason, why))
