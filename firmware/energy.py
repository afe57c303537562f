# Energy put into the tank: heater power x time while it draws, split into what came from the
# solar surplus and what came from the grid. Pure counters; the app saves them (state.json) at
# each step shown and at day change. Saved values are checked when read back: anything that is
# not a plausible count starts from zero, so a damaged file cannot break every poll.

MAX_WH = 1e9  # 12 kW for a century is about 1e8 Wh
_DAY_WH = 1e6  # a day's counter, at most: 41 kW for 24 h
_TOTAL_MAX = 999999999  # a total in whole Wh: with today's, under MAX_WH
# Counters are shown (console, MQTT) in whole steps, and saved each time a shown one steps: after
# a power cut a counter restarts from a saved value at least as high as the last one shown, so
# that Home Assistant never sees it go back (it would take a drop for a meter reset, and count
# the energy again). A total steps with the day's counter it includes (its steps before today
# plus the day's), so one save covers both: 50 Wh, 20 saves per kWh diverted (40 per kWh from
# the grid, whose counters step apart from the surplus's).
STEP_WH = 50
MAX_DAY = 100000  # days since 1970: the year 2243


def _wh(s, key, most=MAX_WH):
    v = s.get(key)
    if (type(v) is int or type(v) is float) and 0 <= v <= most:  # false for nan and inf
        return v
    return 0.0


def _day(v):
    return v if type(v) is int and 0 <= v <= MAX_DAY else None


class Energy:
    def __init__(self, saved=None, day=None):
        s = saved if type(saved) is dict else {}
        self.day = _day(s.get("day"))
        self.today_wh = _wh(s, "today_wh", _DAY_WH)
        self.today_grid_wh = min(_wh(s, "today_grid_wh", _DAY_WH), self.today_wh)
        self.yesterday_wh = _wh(s, "yesterday_wh", _DAY_WH)
        # The totals before today, in whole Wh (ints): the ESP32's floats have 32 bits, and one
        # holding 2 MWh moves in steps of 0.25 Wh, so that a poll's 0.56 Wh added to it counted
        # as 0.5 (past 8.4 MWh as 1, past 16.8 MWh as nothing). Today's stay small floats.
        total = min(int(_wh(s, "total_wh")), _TOTAL_MAX)
        grid = min(int(_wh(s, "total_grid_wh")), total)  # a part, never more than the whole
        self.before_wh = max(total - int(self.today_wh), 0)
        self.before_grid_wh = max(grid - int(self.today_grid_wh), 0)
        self._carry = self._grid_carry = 0.0  # the fractions of a Wh that days ended with
        if day is not None:
            self.new_day(day)

    def add(self, seconds, heater_w, net_w):
        """The heater drew heater_w for these seconds while the grid showed net_w (heater
        included). The heater is the marginal load, so any import is charged to it."""
        wh = heater_w * seconds / 3600
        grid = min(max(net_w, 0), heater_w) * seconds / 3600
        self.today_wh += wh
        self.today_grid_wh += grid
        return wh

    def new_day(self, day):
        """Local day number (days since 1970). True when the day changed."""
        if day == self.day:
            return False
        if self.day is not None and day == self.day + 1:
            self.yesterday_wh = self.today_wh
        else:
            self.yesterday_wh = 0.0
        self.day = day
        x = self.today_wh + self._carry  # today's energy into the totals, in whole Wh
        self.before_wh += int(x)
        self._carry = x - int(x)
        x = self.today_grid_wh + self._grid_carry
        self.before_grid_wh += int(x)
        self._grid_carry = x - int(x)
        self.today_wh = self.today_grid_wh = 0.0
        return True

    def steps(self):
        """The shown counters' steps, summed: it changes whenever a shown counter does (each
        only grows between days)."""
        s = STEP_WH
        return int(
            self.today_wh // s
            + self.today_grid_wh // s
            + self.before_wh // s
            + self.before_grid_wh // s
        )

    def shown(self, wh, before_wh=0):
        """A counter as shown: kWh, in whole steps down, never above what flash holds. A total:
        its whole Wh before today (before_wh) and today's counter (wh), each in its steps, so
        that it steps with today's and one save covers both."""
        s = STEP_WH
        return int(before_wh // s + wh // s) * s / 1000

    def state(self):
        # Each counter within the bound it is read back with (one loaded at its bound goes on
        # counting in RAM only).
        return {
            "day": self.day,
            "today_wh": _tenths(self.today_wh),
            "today_grid_wh": _tenths(self.today_grid_wh),
            "yesterday_wh": _tenths(self.yesterday_wh),
            "total_wh": _whole(self.before_wh, self.today_wh),
            "total_grid_wh": _whole(self.before_grid_wh, self.today_grid_wh),
        }


def _tenths(wh):
    return min(int(wh * 10) / 10, _DAY_WH)  # tenths of Wh are plenty


def _whole(before, today):
    return min(before + int(min(today, _DAY_WH)), _TOTAL_MAX)  # whole Wh: exact in JSON
