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


def board(now=0):
    a = Accounting(2000, 30, now)
    a.reading, a.output = _Reading(), _Output()
    a.heater.drawing = True
    a.energy.new_day(20000)
    return a


def shown(a):
    e = a.energy
    return [e.shown(w) for w in (e.today_wh, e.total_wh, e.today_grid_wh, e.total_grid_wh)]


def test_counters_never_go_back_across_power_cuts():
    os.chdir(tmpdir())
    a = board()
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
    os.chdir(tmpdir())
    a = board()
    writes = []
    save = a.save
    a.save = lambda: (writes.append(1), save())
    for t in range(1, 3601):  # an hour at 2 kW: 2000 Wh, 1700 of them from surplus
        a.tick(t)
    # One write per step passed by any counter: at least the total's, at most one per step
    # of each of the four (today's and the total's steps often fall on the same poll).
    assert 2000 // STEP_WH <= len(writes) <= 2 * (2000 + 300) // STEP_WH, len(writes)


def test_shown_steps():
    e = Energy()
    assert e.shown(49.9) == 0 and e.shown(50) == STEP_WH / 1000 and e.shown(1234) == 1.2
