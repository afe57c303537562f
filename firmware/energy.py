# Energy put into the tank: heater power x time while it draws, split into what came from the
# solar surplus and what came from the grid. Pure counters; the app saves them (state.json)
# hourly and at day change. Saved values are checked when read back: anything that is not a
# plausible count starts from zero, so a damaged file cannot break every poll.

MAX_WH = 1e9  # 12 kW for a century is about 1e8 Wh
# Counters are shown (console, MQTT) in whole steps, and saved each time a shown one steps: after
# a power cut a counter restarts from a saved value at least as high as the last one shown, so
# that Home Assistant never sees it go back (it would take a drop for a meter reset, and count
# the energy again). A total steps with the day's counter it includes (its steps at midnight plus
# the day's), so one save covers both: 50 Wh, 20 saves per kWh diverted (40 per kWh from the
# grid, whose counters step apart from the surplus's).
STEP_WH = 50
MAX_DAY = 100000  # days since 1970: the year 2243


def _wh(s, key):
    v = s.get(key)
    if (type(v) is int or type(v) is float) and 0 <= v <= MAX_WH:  # false for nan and inf
        return v
    return 0.0


def _day(v):
    return v if type(v) is int and 0 <= v <= MAX_DAY else None


class Energy:
    def __init__(self, saved=None, day=None):
        s = saved if type(saved) is dict else {}
        self.day = _day(s.get("day"))
        self.today_wh = _wh(s, "today_wh")
        self.today_grid_wh = min(_wh(s, "today_grid_wh"), self.today_wh)
        self.yesterday_wh = _wh(s, "yesterday_wh")
        self.total_wh = _wh(s, "total_wh")
        self.total_grid_wh = min(_wh(s, "total_grid_wh"), self.total_wh)
        if day is not None:
            self.new_day(day)

    def add(self, seconds, heater_w, net_w):
        """The heater drew heater_w for these seconds while the grid showed net_w (heater
        included). The heater is the marginal load, so any import is charged to it."""
        wh = heater_w * seconds / 3600
        grid = min(max(net_w, 0), heater_w) * seconds / 3600
        self.today_wh += wh
        self.today_grid_wh += grid
        self.total_wh += wh
        self.total_grid_wh += grid
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
        self.today_wh = self.today_grid_wh = 0.0
        return True

    def steps(self):
        """The shown counters' steps, summed: it changes whenever a shown counter does (each
        only grows between days)."""
        s = STEP_WH
        return int(
            self.today_wh // s
            + self.today_grid_wh // s
            + (self.total_wh - self.today_wh) // s
            + (self.total_grid_wh - self.today_grid_wh) // s
        )

    def shown(self, wh, today_wh=None):
        """A counter as shown: kWh, in whole steps down, never above what flash holds. A total
        (today_wh: the day's counter it includes) in its steps at midnight plus the day's."""
        s = STEP_WH
        n = wh // s if today_wh is None else (wh - today_wh) // s + today_wh // s
        return int(n) * s / 1000

    def state(self):
        r = lambda x: int(x * 10) / 10  # noqa: E731 (tenths of Wh are plenty)
        return {
            "day": self.day,
            "today_wh": r(self.today_wh),
            "today_grid_wh": r(self.today_grid_wh),
            "yesterday_wh": r(self.yesterday_wh),
            "total_wh": r(self.total_wh),
            "total_grid_wh": r(self.total_grid_wh),
        }
