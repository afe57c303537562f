# The off-peak top-up, also a legionella guard: if less than boost.min_kwh was diverted today by
# the start of boost.window, heat in the window until that much has gone in. Pure logic on local
# clock time (firmware/clock.py); windows may cross midnight.
from firmware import clock


class Boost:
    def __init__(self, min_kwh, window):
        self.target_wh = min_kwh * 1000
        self.window = window  # (start_minute, end_minute) or None
        self.remaining_wh = 0.0
        self._instance = None  # local day number on which the current window opened
        self.note = None  # a line for the console when something changed, then cleared

    def enabled(self):
        return self.target_wh > 0 and self.window is not None

    def active(self, local_s, today_wh, yesterday_wh):
        """True while the boost should heat. local_s: local wall-clock seconds."""
        if not self.enabled():
            return False
        minute = clock.minute_of_day(local_s)
        if not clock.in_window(minute, self.window):
            if self._instance is not None and self.remaining_wh > 0:
                self.note = "boost: window closed with %.1f kWh still to go" % (
                    self.remaining_wh / 1000
                )
            self._instance = None
            self.remaining_wh = 0.0
            return False
        today = clock.day_number(local_s)
        # A window that crosses midnight and is seen after midnight opened yesterday.
        opened = today if minute >= self.window[0] else today - 1
        if opened != self._instance:
            self._instance = opened
            diverted = today_wh if opened == today else yesterday_wh
            self.remaining_wh = max(0.0, self.target_wh - diverted)
            if self.remaining_wh > 0:
                self.note = (
                    "boost: %.1f kWh diverted by the window, target %.1f: heating %.1f kWh"
                    % (diverted / 1000, self.target_wh / 1000, self.remaining_wh / 1000)
                )
            else:
                self.note = "boost: %.1f kWh already diverted, no top-up needed" % (
                    diverted / 1000
                )
        return self.remaining_wh > 0

    def retarget(self, wh):
        """A new min_kwh (wh) at run time; an open window's top-up follows it."""
        if self._instance is not None:
            self.remaining_wh = max(0.0, self.remaining_wh + wh - self.target_wh)
        self.target_wh = wh

    def delivered(self, wh):
        if self.remaining_wh > 0:
            self.remaining_wh = max(0.0, self.remaining_wh - wh)
            if self.remaining_wh == 0:
                self.note = "boost: target reached"

    def tank_hot(self):
        if self.remaining_wh > 0:
            self.remaining_wh = 0.0
            self.note = "boost: the thermostat opened, the tank is hot; boost done"
