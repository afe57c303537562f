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
        e.before_wh, e.before_grid_wh = int(total_wh), int(total_wh / 3)  # years on the wall
    return a


def shown(a):
    e = a.energy
    return [
        e.shown(e.today_wh),
        e.shown(e.today_wh, e.before_wh),
        e.shown(e.today_grid_wh),
        e.shown(e.today_grid_wh, e.before_grid_wh),
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


def test_the_totals_are_whole_watt_hours_which_a_32_bit_float_would_lose():
    # The ESP32's floats have 32 bits (ports/esp32/mpconfigport.h: MICROPY_FLOAT_IMPL_FLOAT);
    # the host runtimes' have 64. A total of 2 MWh kept in one moves in steps of 0.25 Wh:
    # adding a poll's 0.56 Wh to it, as 1.1 did, counts an hour at 2 kW as 2250 or 1800 Wh.
    import struct

    def f32(x):
        return struct.unpack("f", struct.pack("f", x))[0]

    t = f32(2**21)
    for _ in range(3600):
        t = f32(t + f32(2000 / 3600))
    assert abs(t - 2**21 - 2000) >= 200, t - 2**21  # the old sum, on the board
    e = Energy({"day": 100, "total_wh": 2**21, "total_grid_wh": 2**20}, day=100)
    for _ in range(3600):
        e.add(1, 2000, -500)
    assert e.today_wh > 1999.99 and type(e.before_wh) is int  # today: a small float
    e.new_day(101)
    assert e.before_wh in (2**21 + 1999, 2**21 + 2000) and type(e.before_wh) is int
    state = e.state()
    assert type(state["total_wh"]) is int and state["total_wh"] == e.before_wh
    assert Energy(state, day=101).before_wh == e.before_wh  # exact through flash
