# Helpers for the tank tests (both runtimes): a scripted DS18B20 driver and the console captured.
from firmware import console


class OneWireError(Exception):  # onewire.OneWireError: raised when no device answers the reset
    pass


class Script:
    """A driver with ds18x20.DS18X20's API that reads what the test says: values are read in
    turn (the last one again and again); an Exception instance in them is raised instead."""

    def __init__(self, *values):
        self.values = list(values)
        self.present = True
        self.converts = self.reads = self.scans = 0

    def scan(self):
        self.scans += 1
        return [b"\x28rom"] if self.present else []

    def convert_temp(self):
        if not self.present:
            raise OneWireError()
        self.converts += 1

    def read_temp(self, rom):
        if not self.present:
            raise OneWireError()
        self.reads += 1
        v = self.values.pop(0) if len(self.values) > 1 else self.values[0]
        if isinstance(v, BaseException):
            raise v
        return v

    def then(self, *values):
        self.values = list(values)


class Captured:
    """console.log and console.problem, collected instead of printed (with: ... as lines)."""

    def __enter__(self):
        self.lines = []
        self.saved = console.log, console.problem
        console.log = lambda msg: self.lines.append(msg)
        console.problem = lambda msg: self.lines.append("PROBLEM " + msg)
        return self.lines

    def __exit__(self, *exc):
        console.log, console.problem = self.saved
        return False


def run(sensor, start, end, step=1.0):
    """Call sensor.step every `step` seconds from start to end (excluded); returns end."""
    up = start
    while up < end:
        sensor.step(up)
        up += step
    return end


def having(lines, text):
    return [x for x in lines if text in x]
