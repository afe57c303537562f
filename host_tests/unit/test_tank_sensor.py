# tank.Sensor, the DS18B20 state machine, on a scripted driver: a conversion started in one pass
# and read in a later one, the readings' pace, bounded retries, every kind of bad reading, one
# line when it fails and one when it recovers (CPython and MicroPython).
from support import raises
from tank_support import Captured, OneWireError, Script, having, run

from firmware import tank
from firmware.tank import Sensor


def good(values=(50.0,), start=0.0):
    drv = Script(*values)
    s = Sensor(drv, 4, start)
    return s, drv


def test_a_conversion_starts_in_one_pass_and_is_read_in_a_later_one():
    s, drv = good()
    s.step(0.0)
    assert drv.converts == 1 and drv.reads == 0  # started, not waited for
    s.step(0.5)
    assert drv.reads == 0  # 750 ms have not passed: the chip is still converting
    s.step(0.8)
    assert drv.reads == 1 and drv.converts == 2  # read, and the next one started at once
    assert s.c is None and s.state == "starting"  # one reading is not yet trusted


def test_three_consistent_readings_then_one_every_five_seconds():
    s, drv = good((50.0, 50.1, 50.2, 50.3))
    up = run(s, 0.0, 4.0)
    assert s.c == 50.2 and s.state == "ok" and drv.reads == 3
    run(s, up, up + 60)
    assert drv.reads <= 3 + 60 // tank.READ_S + 1  # at most every few seconds


def test_a_bad_crc_is_retried_then_the_sensor_fails_once_and_recovers():
    s, drv = good()
    with Captured() as lines:
        up = run(s, 0.0, 10.0)
        assert s.c == 50.0
        drv.then(Exception("CRC error"))  # as ds18x20.read_scratch raises it
        reads = drv.reads
        up = run(s, up, up + 8)
        assert s.c is None and s.state == "failed" and s.problem == "CRC error"
        assert drv.reads - reads <= tank.TRIES + 1  # bounded retries, then a pause
        reads = drv.reads
        up = run(s, up, up + 300)
        assert drv.reads - reads <= 300 // tank.FAILED_S + 1  # failed: a try every 30 s
        assert len(having(lines, "tank: sensor failed on GPIO4 (CRC error)")) == 1, lines
        assert having(lines, "PROBLEM tank: sensor failed")  # a problem: it goes to the last words
        drv.then(48.0)
        up = run(s, up, up + 40)
        assert s.c == 48.0 and s.state == "ok" and s.problem is None
        assert having(lines, "ok: recovered (tank sensor: tank_c=48.0)")


def test_one_bad_reading_is_not_a_failure():
    s, drv = good()
    with Captured() as lines:
        up = run(s, 0.0, 10.0)
        drv.then(Exception("CRC error"), 50.0)
        run(s, up, up + 20)
    assert s.c == 50.0 and not lines


def test_a_missing_sensor_at_boot_is_said_once_and_looked_for_every_30_s():
    s, drv = good()
    drv.present = False
    with Captured() as lines:
        up = run(s, 0.0, 5.0)
        assert s.state == "failed" and s.c is None
        scans = drv.scans
        up = run(s, up, up + 120)
        assert drv.scans - scans <= 120 // tank.FAILED_S + 1
        drv.present = True
        run(s, up, up + 40)
    assert len(having(lines, "no DS18B20 found on the bus")) == 1, lines
    assert s.c == 50.0


def test_no_answer_on_the_bus_names_the_wiring():
    s, drv = good()
    with Captured() as lines:
        up = run(s, 0.0, 10.0)
        drv.then(OneWireError())  # the bus reset saw no presence pulse
        run(s, up, up + 10)
    assert having(lines, "no device answers on the bus: check the wiring and the 4.7 kOhm pull-up")


def test_the_power_on_value_85_is_not_a_temperature():
    s, drv = good((85.0,))
    with Captured() as lines:
        run(s, 0.0, 10.0)
    assert s.c is None and having(lines, "85.0 C, its power-on value")


def test_85_is_a_temperature_when_the_tank_was_just_under_it():
    s, drv = good((84.6,))
    up = run(s, 0.0, 10.0)
    drv.then(85.0)
    run(s, up, up + 10)
    assert s.c == 85.0


def test_out_of_range_values_are_failures():
    for value in (-127.0, 0.0, 127.9375, 0.5, 100.5):
        s, drv = good((value,))
        with Captured() as lines:
            run(s, 0.0, 10.0)
        assert s.c is None, value
        assert having(lines, "is out of range (1 to 100 C)"), (value, lines)


def test_an_impossible_jump_is_a_failure_and_a_single_spike_is_not():
    s, drv = good((45.0,))
    up = run(s, 0.0, 10.0)
    drv.then(70.0, 45.0)  # one spike: rejected, the next reading is fine again
    with Captured() as lines:
        up = run(s, up, up + 20)
        assert s.c == 45.0 and not lines
        drv.then(70.0)  # it stays: 3 readings in a row jump from 45
        up = run(s, up, up + 10)
        assert s.c is None and having(lines, "a jump from 45.0 to 70.0 C")
        # 45 is 30 s old at the next try: no reference, and 70 is confirmed three times
        run(s, up, up + 60)
    assert s.c == 70.0 and having(lines, "ok: recovered")


def test_a_jump_of_5_k_is_allowed():
    s, drv = good((45.0,))
    up = run(s, 0.0, 10.0)
    drv.then(50.0)
    run(s, up, up + 10)
    assert s.c == 50.0


def test_memory_running_out_is_not_a_sensor_failure():
    s, drv = good((MemoryError(),))
    s.step(0.0)
    raises(MemoryError, s.step, 1.0)  # the loop counts it (diverter.MEMORY_STREAK)


def test_no_old_temperature_when_the_loop_stalls():
    s, drv = good()
    run(s, 0.0, 10.0)
    assert s.c == 50.0
    s.started = 1e9  # a conversion that never ends: nothing new arrives
    s.step(30.0)
    assert s.c is None


def test_a_replaced_sensor_is_found_again():
    s, drv = good()
    up = run(s, 0.0, 10.0)
    drv.present = False
    up = run(s, up, up + 10)
    assert s.rom is None  # looked for again at the next try
    drv.present = True
    run(s, up, up + 60)
    assert s.c == 50.0 and drv.scans == 2
