# diverter.Diverter's decisions through its one output path (manual override, boost, problems,
# errors) on a fake board, with time scripted: what the link knows is set directly, then
# Diverter.act() decides and switches (runs under CPython and MicroPython).
import os

from support import tmpdir

from firmware import diverter as dv
from firmware import link, policy

DAY = 86400
MIDNIGHT = 20418 * DAY  # 2025-11-25 00:00 UTC


class FakeBoard:
    name = "fake"

    def __init__(self):
        self.up = 0.0
        self.wall = MIDNIGHT + 12 * 3600
        self.relay_on = False
        self.switches = []

    def uptime(self):
        return self.up

    def now(self):
        return int(self.wall)

    def relay(self, on):
        if on != self.relay_on:
            self.switches.append((self.up, on))
        self.relay_on = on

    def wdt_feed(self):
        pass

    def burst(self, hz):
        self.driver = FakeBurst(self)
        return self.driver

    def timeout(self, seconds):
        return seconds

    def reset_cause(self):
        return "power-on"

    def reset(self):
        self.resets = getattr(self, "resets", 0) + 1


class FakeBurst:
    """A zero-cross SSR driver: what was played, chunk by chunk."""

    on_level, off_level = 1, 0

    def __init__(self, board):
        self.board = board
        self.chunks = []  # (uptime, share of the chunk), 0 for an off

    def play(self, levels):
        self.chunks.append((self.board.up, sum(levels) / len(levels)))
        self.board.relay_on = True

    def off(self):
        self.chunks.append((self.board.up, 0))
        self.board.relay_on = False


def diverter(boost=None, output="relay"):
    os.chdir(tmpdir())
    cfg = {
        "wifi": {"ssid": "x", "password": ""},
        "enlighten": {
            "email": "a@b.c",
            "password": "p",
            "login_url": "https://127.0.0.1/l",
            "token_url": "https://127.0.0.1/t",
            "ca_file": "",
        },
        "envoy": {"host": "127.0.0.1:1", "serial": "", "token": "", "pin": "off"},
        "heater": {
            "power_w": 2000,
            "relay_pin": 23,
            "active_high": True,
            "output": output,
            "burst_window_s": 1,
            "mains_hz": 50,
        },
        "control": {
            "poll_s": 1,
            "max_import_w": 200,
            "start_delay_s": 0,
            "stop_delay_s": 0,
            "min_on_s": 0,
            "min_off_s": 0,
            "stale_s": 30,
        },
        "clock": {"utc_offset_min": 0, "dst": "none"},
        "boost": {"min_kwh": 0, "window": ""},
        "update": {"url": "", "check_h": 24, "auto": False, "ca_file": "", "pin": ""},
    }
    if boost:
        cfg["boost"] = boost
    board = FakeBoard()
    d = dv.Diverter(cfg, board)
    d.link.clock_ok = True
    return d, board


def reading(d, board, net):
    d.link.reading.net_w = net
    d.link.reading.fresh_at = d.link.reading.last_at = board.up


def apply(d):
    decision = d.act(d.board.up)
    assert (decision.power > 0) == board_on(d)  # the output followed the decision
    return decision.power > 0, decision.reason


def board_on(d):
    return d.board.relay_on


def test_force_on_holds_for_its_minutes_then_auto_returns():
    d, board = diverter()
    reading(d, board, 400)  # importing: auto would keep the relay off
    d.force_on(2)
    assert apply(d) == (True, policy.MANUAL_ON)
    board.up += 119
    reading(d, board, 2400)
    assert apply(d) == (True, policy.MANUAL_ON)
    board.up += 2
    assert apply(d) == (False, "import")
    assert d.status()["mode"] == policy.AUTO


def test_force_on_ignores_missing_data_but_auto_does_not():
    d, board = diverter()
    d.force_on(10)
    assert apply(d) == (True, policy.MANUAL_ON)  # the user asked, for a limited time
    d.auto()
    assert apply(d) == (False, "no-data")


def test_force_off_wins_over_surplus_until_auto():
    d, board = diverter()
    reading(d, board, -3000)
    d.force_off()
    assert apply(d) == (False, policy.MANUAL_OFF)
    board.up += 3600
    reading(d, board, -3000)
    assert apply(d) == (False, policy.MANUAL_OFF)
    d.auto()
    assert apply(d) == (True, "surplus")


def test_a_problem_names_the_reason_for_off():
    d, board = diverter()
    reading(d, board, -3000)
    assert apply(d) == (True, "surplus")
    d.link.report(link.ENVOY_DOWN, "envoy: timed out")
    assert apply(d) == (False, link.ENVOY_DOWN)
    assert board.switches[-1] == (0.0, False)


def test_stale_data_switches_off_after_stale_s():
    d, board = diverter()
    reading(d, board, -3000)
    assert apply(d)[0]
    board.up += 30
    assert apply(d)[0]
    board.up += 1
    assert apply(d) == (False, "stale")


def test_boost_heats_in_the_window_from_the_grid():
    d, board = diverter({"min_kwh": 1.0, "window": "02:00-04:00"})
    board.wall = MIDNIGHT + 2 * 3600 + 60
    reading(d, board, 300)  # night: importing, auto would never start
    assert apply(d) == (True, policy.BOOST)
    d.accounting.heater.drawing = True  # the step was seen
    board.up += 1800
    reading(d, board, 2300)  # the heater runs from the grid
    assert apply(d)[1] != policy.BOOST  # target reached: back to auto
    s = d.status()
    assert abs(s["today_kwh"] - 1) < 0.001 and abs(s["today_grid_kwh"] - 1) < 0.001, s
    assert not board.relay_on


def test_boost_needs_the_clock():
    d, board = diverter({"min_kwh": 1.0, "window": "02:00-04:00"})
    d.link.clock_ok = False
    board.wall = MIDNIGHT + 3 * 3600
    reading(d, board, 300)
    assert apply(d) == (False, "low-export")


def test_an_internal_error_switches_off_and_says_so():
    d, board = diverter()
    reading(d, board, -3000)
    assert apply(d) == (True, "surplus")
    d.fail("ValueError: something broke")
    s = d.status()
    assert not board.relay_on and s["reason"] == dv.ERROR and s["net_w"] is None
    assert apply(d) == (False, "no-data")  # until a fresh reading arrives


def test_the_data_age_keeps_growing_while_the_envoy_is_down():
    d, board = diverter()
    reading(d, board, -3000)
    board.up += 5
    d.link.report(link.ENVOY_DOWN, "envoy: timed out")
    board.up += 40
    s = d.status()
    assert s["age_s"] == 45 and s["net_w"] is None  # the real age, not "unknown"


def test_problems_reach_flash_at_most_every_ten_minutes():
    from firmware import console, lastwords

    d, board = diverter()
    console.unsaved = 0
    d.step = None  # only the minute's work runs here
    console.problem("envoy: timed out")
    d._minute(0)
    with open(lastwords.FILE) as f:
        first = f.read()
    assert "timed out" in first
    console.problem("envoy: connection refused")
    d._minute(120)  # too soon: flash wears
    with open(lastwords.FILE) as f:
        assert f.read() == first
    d._minute(600)
    with open(lastwords.FILE) as f:
        assert "connection refused" in f.read()


class _ShortOfMemory:
    # An Envoy client whose connection cannot find the memory it needs, n times.
    def __init__(self, n):
        self.n = n
        self.version = "D8"

    def ready(self):
        if self.n:
            self.n -= 1
            raise MemoryError("memory allocation failed, allocating 640 bytes")
        return True

    def read(self):
        return -1000, 1

    def done(self):
        pass

    def reset(self):
        pass

    close = reset


def test_no_memory_for_the_envoy_goes_to_the_loop_which_counts_it():
    d, board = diverter()
    d.link.envoy = _ShortOfMemory(1)
    try:
        d.link._poll(10)
        raised = False
    except MemoryError:
        raised = True
    assert raised and d.link.errors == 0  # not an Envoy problem: the loop restarts after a streak
    assert d.link._poll(20)  # then a connection


class _Reset(Exception):
    pass


def test_running_out_of_memory_again_and_again_restarts_the_board():
    d, board = diverter()
    passes = []

    def step():
        passes.append(board.up)
        if len(passes) != 3:  # two, a good pass (the streak starts again), then three
            raise MemoryError("memory allocation failed, allocating 232 bytes")

    def reset():
        raise _Reset()

    d.step = step
    board.reset = reset
    board.wdt_start = board.wdt_relax = lambda *a: None
    board.sleep_ms = lambda ms: None
    try:
        d.loop()
    except _Reset:
        pass
    assert len(passes) == 6 and not board.relay_on and d.status()["reason"] == dv.STOPPED


def test_burst_follows_the_surplus_and_stops_at_once():
    d, board = diverter(output="burst")
    assert board.driver.chunks == [(0.0, 0)]  # OFF at boot
    for _ in range(12):
        board.up += 1
        # The export without the heater is 1030 W; the heater draws its share 1-2 s later.
        played = board.driver.chunks[-2][1] if len(board.driver.chunks) > 1 else 0
        reading(d, board, -1030 + 2000 * played)
        on, reason = apply(d)
    assert on and reason == "surplus"
    share = board.driver.chunks[-1][1]
    assert 0.46 <= share <= 0.54, board.driver.chunks
    s = d.status()
    assert s["output"] == "burst" and abs(s["power"] - 0.5) < 0.05
    assert "burst=on duty_pct=" in dv.reports.summary(s)
    board.up += 31  # stale: off at once
    assert apply(d) == (False, "stale") and board.driver.chunks[-1] == (board.up, 0)


def test_burst_manual_on_is_full_power_and_an_error_stops_it():
    d, board = diverter(output="burst")
    reading(d, board, 400)
    d.force_on(5)
    assert apply(d) == (True, policy.MANUAL_ON)
    assert board.driver.chunks[-1][1] == 1
    d.fail("ValueError: something broke")
    assert not board.relay_on and board.driver.chunks[-1][1] == 0


def test_the_times_of_day_are_read_at_boot_and_their_code_goes():
    import sys

    d, board = diverter(boost={"min_kwh": 2, "window": "02:00-05:00"})
    assert d.policy.boost.window == (120, 300)
    assert "firmware.clock_text" not in sys.modules  # read once: its code is not kept
    assert not hasattr(sys.modules["firmware.clock"], "parse_window")  # nor in the clock's


def test_burst_leaves_the_relay_rules_unloaded():
    import sys

    sys.modules.pop("firmware.control", None)
    d, board = diverter(output="burst")
    assert "firmware.control" not in sys.modules  # heap: 2.6 KB of bytecode on an ESP32
    d, board = diverter()
    assert "firmware.control" in sys.modules


def test_burst_boost_heats_at_full_power_and_counts_it():
    d, board = diverter({"min_kwh": 1.0, "window": "02:00-04:00"}, output="burst")
    board.wall = MIDNIGHT + 2 * 3600 + 60
    reading(d, board, 300)
    assert apply(d) == (True, policy.BOOST) and board.driver.chunks[-1][1] == 1
    d.accounting.heater.drawing = True  # the heater model saw it (burst.observe)
    board.up += 1800
    reading(d, board, 2300)
    assert apply(d)[1] != policy.BOOST  # target reached: back to auto (no surplus: off)
    s = d.status()
    assert abs(s["today_kwh"] - 1) < 0.001 and abs(s["today_grid_kwh"] - 1) < 0.001, s
    assert not board.relay_on


def test_a_month_up_restarts_the_board_with_the_heater_off_never_on():
    # The ESP32's uptime is a 32-bit float of seconds: past 48 days it moves in half seconds,
    # past 194 days in two. A month up, the next minute with the heater off restarts the board.
    d, board = diverter()
    board.up = 30 * 86400 - 1.0
    d._minute(board.up)
    assert getattr(board, "resets", 0) == 0  # not yet a month
    board.up += 60
    d.output.power = 1  # heating: not now
    d._minute(board.up)
    assert getattr(board, "resets", 0) == 0
    d.output.power = 0
    board.up += 60
    lines, log = [], dv.console.log
    dv.console.log = lines.append
    try:
        d._minute(board.up)
    finally:
        dv.console.log = log
    assert board.resets == 1 and "restarting: 30 days up, with the heater off" in lines[0]
    assert not board.relay_on and d.status()["reason"] == dv.STOPPED


def test_a_restart_comes_even_when_stopping_runs_out_of_memory():
    d, board = diverter()

    def stop():
        raise MemoryError("memory allocation failed, allocating 283 bytes")

    d.stop = stop
    for restart in (d.restart_to_log_in, d.restart_for_memory):
        try:
            restart("why")
        except MemoryError:
            pass
    assert getattr(board, "resets", 0) == 2


def test_the_lag_is_measured_shown_and_followed_by_the_burst_output():
    # Issue 22: readings 10 s old. The diverter feeds each fresh reading to the lag (with the
    # Envoy's timestamp and the board's clock), the burst output follows it in slow mode,
    # and status(), the summary line and MQTT's state say so.
    from firmware import console, mqtt

    lines = []
    console.log, was = lines.append, console.log
    try:
        d, board = diverter(output="burst")
        nets = []
        for k in range(600):
            board.up += 1
            board.wall += 1
            played = board.driver.chunks[-1][1]
            nets.append(-1030 + 2000 * played)
            if k >= 10:  # the reading of second k - 10, stamped by the Envoy then
                r = d.link.reading
                r.net_w, r.stamp, r.fresh_at = nets[k - 10], board.now() - 10, board.up
                d.accounting.observe(board.up, True)  # as step(): the lag, the heater model
            apply(d)
    finally:
        console.log = was
    s = d.status()
    # A sample shows the chunk played the pass before it: 11 passes from a change to its step.
    assert s["lag_stamp_s"] == 10 and s["update_s"] == 1, s
    assert s["lag_s"] in (10.5, 11) and s["lag_step_s"] in (None, 11), s
    assert s["burst_mode"] == "slow" and s["lag_junk"] is None
    assert abs(s["power"] - 0.5) < 0.05, s["power"]  # settled on the surplus
    assert " lag_s=%g update_s=1 burst_mode=slow" % s["lag_s"] in dv.reports.summary(s)
    assert all(k in s for k in mqtt.STATE if not k.startswith("battery_"))  # a battery site only
    said = [x for x in lines if x.startswith("burst: readings")]
    assert len(said) == 1 and "slow mode (too late for proportional control)" in said[0], said
    assert said[0].startswith("burst: readings 10.5 s late: "), said  # by the timestamps, at once
    # The relay does not measure it (heap: lag.py is not loaded), and says nothing of it.
    import sys

    sys.modules.pop("firmware.lag", None)
    d, board = diverter()
    s = d.status()
    assert s["lag_s"] is None and s["burst_mode"] is None and "firmware.lag" not in sys.modules
    assert "lag_s" not in dv.reports.summary(s)
    assert all(k in s for k in mqtt.STATE if not k.startswith("battery_"))


def test_the_details_rules_line_works_for_both_outputs():
    from firmware.details import _rules

    d, _ = diverter(output="burst")  # it used to read the relay's settings: AttributeError
    line = _rules(d, d.policy.rules)
    assert line.startswith("burst window_s=1 mains_hz=50 stale_s=30") and "lag_model=1-2" in line
    d, _ = diverter()
    assert _rules(d, d.policy.rules).startswith("max_import_w=200 ")


def test_diag_status_shows_the_lag_in_burst_mode_only():
    from firmware import app, diag

    lines = []
    diag.print = lines.append  # diag's own name: captures it on both runtimes
    was = app.current
    try:
        d, board = diverter(output="burst")
        board.wifi_up = lambda: True  # details() asks
        app.current = d
        d.output.rules.lag.stamp16 = 3 << 4  # readings 3 s old by their timestamps
        d.output.rules.lag.junk = "future"
        diag.status()
        lag = [x for x in lines if x.startswith("lag: ")]
        assert lag == [
            "lag: lag_s=3.5 (from steps -, from timestamps 3, junk: future) update_s=- "
            "burst_mode=normal"
        ], lines
        del lines[:]
        app.current, board = diverter()
        board.wifi_up = lambda: True
        diag.status()
        assert lines and not [x for x in lines if x.startswith("lag")], lines
    finally:
        app.current = was
        del diag.print


def test_settings_changed_at_run_time_survive_a_restart_until_the_config_changes():
    import json

    d, board = diverter({"min_kwh": 1.0, "window": "02:00-04:00"})
    d.set_max_import(450)
    d.set_boost(2.5)
    d.set_on_min(90)
    d._minute(board.up)  # saved within a minute
    with open("settings.json") as f:
        assert json.load(f) == {
            "max_import_w": [200, 450],
            "boost_kwh": [1.0, 2.5],
            "on_min": [60, 90],
        }
    again = restart(d)
    assert again.policy.rules.max_import == 450 and again.policy.boost.target_wh == 2500
    assert again.kept["on_min"] == 90
    d.cfg["control"]["max_import_w"] = 300  # the owner edited config.json: it wins again
    edited = restart(d)
    assert edited.policy.rules.max_import == 300 and "max_import_w" not in edited.kept
    assert edited.policy.boost.target_wh == 2500


def test_kept_settings_from_a_damaged_file_are_ignored():
    import json

    d, board = diverter()
    for junk in (
        {"max_import_w": [200, 99999]},
        {"max_import_w": [200, 4.5]},
        {"max_import_w": [200, True]},
        {"max_import_w": 450},
        {"boost_kwh": [0, "2"]},
        [1, 2],
    ):
        with open("settings.json", "w") as f:
            json.dump(junk, f)
        again = restart(d)
        assert again.policy.rules.max_import == 200 and again.kept == {}, junk


def test_a_restart_for_an_update_keeps_a_setting_made_seconds_before():
    d, board = diverter()
    d.set_max_import(450)  # not yet saved: that waits for the minute
    d.restart_for_update("update: installing 1.2.0 (asked for over MQTT); restarting")
    assert getattr(board, "resets", 0) == 1
    assert restart(d).policy.rules.max_import == 450


def restart(d):
    return dv.Diverter(d.cfg, d.board, d.link)
