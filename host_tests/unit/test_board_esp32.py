# board_esp32.py with stand-ins for machine, network and ntptime (host_tests/fakes, never
# deployed): relay levels, the safe-mode window, the Wi-Fi wait and the watchdog at the REPL.
import sys

from support import ROOT

sys.path.insert(0, ROOT + "/host_tests/fakes")  # before the unix port's own machine module
import machine  # noqa: E402
import network  # noqa: E402

from firmware import board_esp32  # noqa: E402


def fresh():
    board_esp32.sleep_ms = lambda ms: None  # the waits are real on a board, not in a test
    machine.log[:] = []
    machine.Pin.levels = {}
    machine.Pin.reads = 0
    machine.button_held_after = None


def test_relay_levels_active_high_and_low():
    fresh()
    b = board_esp32.Board(23, active_high=True)
    assert machine.log[0] == ("init", 23, "out", 0)  # OFF from the moment the pin is an output
    b.relay(True)
    assert machine.Pin.levels[23] == 1 and b.relay_on
    fresh()
    b = board_esp32.Board(22, active_high=False)  # low-trigger relay module
    assert machine.log[0] == ("init", 22, "out", 1)
    b.relay(True)
    assert machine.Pin.levels[22] == 0
    b.relay(False)
    assert machine.Pin.levels[22] == 1


def test_safe_mode_button_pressed_after_reset():
    fresh()
    b = board_esp32.Board(23)
    assert b.safe_mode() is None  # nobody pressed it during the window
    assert machine.Pin.reads == board_esp32.SAFE_MODE_WINDOW_MS // 100
    fresh()
    machine.button_held_after = 5  # pressed half a second in
    assert "BOOT button" in b.safe_mode()


def test_wifi_gives_up_early_on_a_definite_failure():
    fresh()
    b = board_esp32.Board(23)
    network.script[:] = [1001] * 6 + [202]  # connecting..., then STAT_WRONG_PASSWORD
    assert b.wifi_connect("home", "bad") is False
    assert b._wlan.calls[-1] == ("disconnect",)
    assert b.wifi_problem() == "status 1001"  # the script ran out: still "connecting"
    network.script[:] = [1001, "up"]
    assert b.wifi_connect("home", "good") is True


def test_watchdog_is_relaxed_for_the_repl():
    fresh()
    b = board_esp32.Board(23)
    b.wdt_start(120)
    b.wdt_feed()
    b.wdt_relax()
    assert ("wdt", 120000) in machine.log and (
        "wdt",
        board_esp32.REPL_WATCHDOG_S * 1000,
    ) in machine.log


def test_clock_from_ntp():
    import ntptime

    fresh()
    b = board_esp32.Board(23)
    ntptime.fail = True
    assert b.sync_clock() is False
    ntptime.fail = False
    assert b.sync_clock() is True  # the host's clock is set


def test_reset_cause_in_words():
    fresh()
    b = board_esp32.Board(23)
    machine.cause = machine.WDT_RESET
    assert b.reset_cause() == "the watchdog"
    machine.cause = machine.SOFT_RESET
    assert b.reset_cause() == "a software reset or a crash"
    machine.cause = 99
    assert b.reset_cause() == "reset cause 99"


def test_boot_claims_the_last_good_pin_when_config_json_is_broken():
    import os

    from support import tmpdir

    from firmware import board

    fresh()
    os.chdir(tmpdir())
    with open("config.json", "w") as f:
        f.write('{"heater": {"relay_pin": 22, "active_high": false},,}')  # a syntax error
    with open(board.RELAY_FILE, "w") as f:
        f.write('{"relay_pin": 22, "active_high": false}')
    board.relay_off_at_boot(claim=board_esp32.claim_relay_pin)
    assert machine.log == [("init", 22, "out", 1)]  # low-trigger module: OFF is high
    fresh()
    with open(board.RELAY_FILE, "wb") as f:
        f.write(b'{"relay_pin": 22, \xff')  # damaged too: a line, nothing driven, no exception
    board.relay_off_at_boot(claim=board_esp32.claim_relay_pin)
    assert machine.log == []


def test_burst_plays_chunks_in_hardware_and_off_takes_the_pin_back_at_once():
    import esp32

    fresh()
    b = board_esp32.Board(22, active_high=False)
    d = b.burst(50)
    assert (d.on_level, d.off_level) == (0, 1)
    del machine.log[:]
    d.off()  # nothing playing: nothing to do
    assert machine.log == []
    d.play([0, 1, 0, 1])
    assert machine.log == [("rmt", 22, 250, True), ("pulses", 6400, [0, 1, 0, 1])]
    d.play([1, 1, 1, 1])  # the same channel: the hardware queues it after the one in play
    assert machine.log[-1] == ("pulses", 6400, [1, 1, 1, 1]) and len(machine.log) == 3
    del machine.log[:]
    d.off()
    assert machine.log == [("init", 22, "out", 1)] and machine.Pin.levels[22] == 1
    # Restarting waits for the stopped chunk's end before releasing its channel.
    esp32.RMT.done = False
    d.play([0, 0])
    assert machine.log[1:] == [
        ("wait", 2500),
        ("deinit",),
        ("rmt", 22, 250, True),
        ("pulses", 6400, [0, 0]),
    ]
    esp32.RMT.done = True
    assert board_esp32.Board(23).burst(60)._ticks == 5333
