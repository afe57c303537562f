# The board's DS18B20 as the ESP32 runs it: board_esp32.tank_sensor builds micropython-lib's own
# onewire and ds18x20 drivers (tools/upy_lib, unchanged; frozen in the ESP32 firmware) on
# machine.Pin, here over host_tests/fakes/_onewire.py, a simulated bus with DS18B20 chips at
# the level of bits. The CRC check, the search and the conversion's timing are the drivers'.
import sys

from support import ROOT
from tank_support import Captured, having

sys.path.insert(0, ROOT + "/tools/upy_lib")
sys.path.insert(0, ROOT + "/host_tests/fakes")  # before the unix port's own machine module
try:
    # isort: off
    import micropython  # noqa: F401  (ds18x20 takes const from it)
    import ds18x20  # noqa: F401
    # isort: on
except ImportError:  # CPython: a micropython module for the driver's import only
    import types

    sys.modules["micropython"] = types.ModuleType("micropython")
    sys.modules["micropython"].const = lambda x: x
    import ds18x20  # noqa: F401

    del sys.modules["micropython"]
import _onewire  # noqa: E402
import machine  # noqa: E402

from firmware import board_esp32  # noqa: E402
from firmware.tank import Sensor  # noqa: E402


def bus(*chips):
    _onewire.devices[:] = list(chips)
    _onewire.faults.update(short=False, garble=0)
    _onewire.now[0] = 0.0
    machine.log[:] = []
    return board_esp32.Board(23).tank_sensor(4)


def run(sensor, start, end):
    up = start
    while up < end:
        _onewire.now[0] = up
        sensor.step(up)
        up += 1.0
    return end


def test_the_crc8_is_maxims():
    # Maxim application note 27's example ROM: family 02, serial 1C B8 01 00 00 00, CRC A2.
    assert _onewire.crc8(b"\x02\x1c\xb8\x01\x00\x00\x00") == 0xA2
    assert _onewire.crc8(b"\x02\x1c\xb8\x01\x00\x00\x00\xa2") == 0


def test_the_drivers_find_and_read_a_ds18b20_on_the_pin():
    chip = _onewire.Chip(c=52.5)
    drv = bus(chip)
    assert ("init", 4, "open_drain", None) in machine.log  # OneWire sets the pin up itself
    assert drv.scan() == [bytearray(chip.rom)]
    s = Sensor(drv, 4, 0.0)
    run(s, 0.0, 5.0)
    assert s.c == 52.5 and s.rom == bytearray(chip.rom)
    chip.c = 53.0625  # 1/16 K steps at 12 bits
    run(s, 5.0, 12.0)
    assert s.c == 53.0625


def test_a_read_before_the_conversion_ends_gets_the_old_value():
    chip = _onewire.Chip(c=52.5)
    drv = bus(chip)
    rom = drv.scan()[0]
    drv.convert_temp()  # returns at once
    assert drv.read_temp(rom) == 85.0  # still converting: the power-on value
    _onewire.now[0] = 0.75
    assert drv.read_temp(rom) == 52.5
    # which is why tank.Sensor reads in a later pass, 750 ms on: it never sees that 85
    drv = bus(_onewire.Chip(c=52.5))
    s = Sensor(drv, 4, 0.0)
    with Captured() as lines:
        run(s, 0.0, 10.0)
    assert s.c == 52.5 and not lines


def test_a_garbled_scratchpad_is_a_crc_error():
    chip = _onewire.Chip(c=52.5)
    drv = bus(chip)
    s = Sensor(drv, 4, 0.0)
    run(s, 0.0, 10.0)
    with Captured() as lines:
        _onewire.faults["garble"] = 1000
        run(s, 10.0, 20.0)
        assert s.c is None and having(lines, "tank: sensor failed on GPIO4 (CRC error)"), lines
        _onewire.faults["garble"] = 0
        run(s, 20.0, 60.0)
    assert s.c == 52.5 and having(lines, "ok: recovered (tank sensor: tank_c=52.5)")


def test_an_unplugged_sensor_raises_onewireerror_and_is_said_so():
    chip = _onewire.Chip(c=52.5)
    drv = bus(chip)
    s = Sensor(drv, 4, 0.0)
    run(s, 0.0, 10.0)
    with Captured() as lines:
        _onewire.devices[:] = []
        run(s, 10.0, 20.0)
    assert s.c is None
    assert having(lines, "no device answers on the bus: check the wiring"), lines


def test_a_shorted_data_line_reads_zero_with_a_valid_crc_and_is_refused():
    drv = bus(_onewire.Chip(c=52.5))
    _onewire.faults["short"] = True
    rom = bytearray(8)
    assert drv.read_temp(rom) == 0.0  # the driver's CRC check passes: all zeros
    s = Sensor(drv, 4, 0.0)
    s.rom = rom
    with Captured() as lines:
        run(s, 0.0, 10.0)
    assert s.c is None and having(lines, "0.0 C is out of range"), lines


def test_a_sensor_that_resets_at_each_conversion_reads_85_and_is_refused():
    chip = _onewire.Chip(c=52.5)
    chip.resets = True  # a weak supply, or parasitic power without the strong pull-up
    s = Sensor(bus(chip), 4, 0.0)
    with Captured() as lines:
        run(s, 0.0, 10.0)
    assert s.c is None and having(lines, "85.0 C, its power-on value"), lines


def test_with_two_chips_on_the_bus_the_first_found_is_read():
    a = _onewire.Chip(c=40.0, serial=b"\x01\x00\x00\x00\x00\x01")
    b = _onewire.Chip(c=60.0, serial=b"\x02\x00\x00\x00\x00\x01")
    drv = bus(a, b)
    roms = drv.scan()
    assert sorted(bytes(r) for r in roms) == sorted([a.rom, b.rom])
    s = Sensor(drv, 4, 0.0)
    run(s, 0.0, 10.0)
    assert s.c == (40.0 if bytes(roms[0]) == a.rom else 60.0)
