# The energy counters Home Assistant sums (total_increasing): never backwards, power cuts
# included. Shown in whole steps (energy.STEP_WH) and saved each time one is passed, so a board
# restarting from state.json shows at least what it showed before the cut (both runtimes).
import os

from support import tmpdir

from firmware.accounting import Accounting
from firmware.energy import STEP_WH, Energy


class _Reading:
    net_w = 300  # some of the heater from the grid: every counter grows
    fresh_at = 0

    def age(self, up):
        return 0


class _Output:
    power = 1
    burst = False


def board(now=0, total_wh=0.0):
    a = Accounting(2000, 30, now)
    a.reading, a.output = _Reading(), _Output()
    a.heater.drawing = True
    e = a.energy
    if e.new_day(20000):
        e.total_wh, e.total_grid_wh = total_wh, total_wh / 3  # years on the wall before today
    return a


def shown(a):
    e = a.energy
    return [
        e.shown(e.today_wh),
        e.shown(e.total_wh, e.today_wh),
        e.shown(e.today_grid_wh),
        e.shown(e.total_grid_wh, e.today_grid_wh),
    ]


def test_counters_never_go_back_across_power_cuts():
    os.chdir(tmpdir())
    a = board(total_wh=12345.6)
    seen = shown(a)
    t = 0
    for cut in range(12):
        for _ in range(7 + 5 * cut):  # a power cut after an uneven number of seconds
            t += 13
            a.tick(t)
            now = shown(a)
            assert all(now[i] >= seen[i] for i in range(len(seen))), (now, seen)
            seen = now
        a = board(t)  # power cut: what is on flash comes back, nothing else
        again = shown(a)
        assert all(again[i] >= seen[i] for i in range(len(seen))), ("after the cut", again, seen)
        seen = again
    assert seen[1] >= 12 * STEP_WH / 1000  # it did count


def test_the_counters_are_saved_once_a_step_not_each_poll():
    for total_wh in (0.0, 12345.6, 987654.3):  # a total whose steps fall between today's
        os.chdir(tmpdir())
        a = board(total_wh=total_wh)
        writes = []
        save = a.save
        a.save = lambda w=writes, s=save: (w.append(1), s())
        for t in range(1, 3601):  # an hour at 2 kW: 2000 Wh, 300 of them from the grid
            a.tick(t)
        # One write per step of the day's counters: the totals step with them (20 writes per
        # kWh diverted, 40 per kWh from the grid), never apart (40 and 60 per kWh before).
        assert len(writes) <= (2000 + 300) // STEP_WH, (total_wh, len(writes))
        assert shown(a)[1] >= total_wh / 1000 + 1.95, shown(a)  # the total went on counting


def test_shown_steps():
    e = Energy()
    assert e.shown(49.9) == 0 and e.shown(50) == STEP_WH / 1000 and e.shown(1234) == 1.2
