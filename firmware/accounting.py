# What went into the tank: the heater model learns from each fresh reading (its real power, the
# thermostat), the energy is counted from surplus and from the grid, the boost is told what it
# delivered, and the counters are kept in state.json (hourly, at day change, at stop).
from firmware import console, store
from firmware.compat import const
from firmware.energy import Energy
from firmware.heater import Heater

_STATE_FILE = const("state.json")


class Accounting:
    def __init__(self, rated_w, stale_s, now):
        saved = store.load(_STATE_FILE)
        saved = saved if type(saved) is dict else {}
        self.heater = Heater(rated_w, saved.get("learned_w"))
        self.energy = Energy(saved.get("energy"))
        self.stale_s = stale_s
        self.reading = None  # link.Reading, set by the app
        self.output = None  # output.Output, set by the app
        self.boost = None  # the policy's Boost while it heats, else None
        self.tank = None  # tank.Tank: its sensor checks the "tank hot" guess
        self._last = now
        self._saved = self.energy.steps()  # the counters' steps on flash

    def observe(self, up, fresh):
        """After each poll: a fresh reading teaches the heater model."""
        out = self.output
        if not fresh:
            return
        if out.burst:  # the heater's share when the reading was taken, not now (burst.py)
            self._event(out.rules.see(self.heater, self.reading), up)
        elif out.power:
            self._event(self.heater.observe(up, self.reading.house_w, True), up)

    def tick(self, up):
        """Count the energy since the last tick, at the power the output had meanwhile."""
        dt = up - self._last
        self._last = up
        r = self.reading
        age = r.age(up)
        if not self.output.power or self.heater.drawing is not True or age is None:
            return
        if age > self.stale_s:
            return
        e = self.energy
        wh = e.add(dt, self.heater.power_w * self.output.power, r.net_w)
        if self.boost is not None:
            self.boost.delivered(wh)
        if e.steps() != self._saved:
            self.save()  # a step shown is a step on flash (energy.STEP_WH)

    def new_day(self, day):
        if self.energy.new_day(day):
            console.log("energy: new day; yesterday_kwh=%.2f" % (self.energy.yesterday_wh / 1000))
            self.save()

    def save(self):
        e = self.energy
        self._saved = e.steps()
        store.save(_STATE_FILE, {"energy": e.state(), "learned_w": self.heater.learned_w})

    def _event(self, event, up):
        h = self.heater
        if event == "tank-hot" and self.tank and self.tank.overrule(h, up):
            return  # the sensor beats the guess: still heating
        if event == "tank-hot":
            console.log(
                "heater: tank hot (thermostat open): step_w=%s of %d W; no energy counted"
                % (_w(h.jump), h.power_w)
            )
            if self.boost is not None:
                self.boost.tank_hot()
        elif event == "learned":
            console.log("heater: learned power_w=%d from two consistent steps" % h.learned_w)
        elif event:
            console.log("heater: heating step_w=%s" % _w(h.jump))


def _w(step):
    # The step or jump that triggered the line (issue 15: not the last switch-on step).
    return "?" if step is None else "%d" % step
