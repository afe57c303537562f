# Energy put into the tank: heater power x time while it draws, split into what came from the
# solar surplus and what came from the grid. Pure counters; the app saves them (state.json)
# hourly and at day change.


class Energy:
    def __init__(self, saved=None, day=None):
        s = saved if type(saved) is dict else {}
        self.day = s.get("day")
        self.today_wh = s.get("today_wh", 0.0)
        self.today_grid_wh = s.get("today_grid_wh", 0.0)
        self.yesterday_wh = s.get("yesterday_wh", 0.0)
        self.total_wh = s.get("total_wh", 0.0)
        self.total_grid_wh = s.get("total_grid_wh", 0.0)
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
