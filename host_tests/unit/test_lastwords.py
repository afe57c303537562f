# The last words: problem lines saved (rarely) to survive a reset, shown after it (both runtimes).
import os

from support import tmpdir

from firmware import console, lastwords


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def fresh():
    os.chdir(tmpdir())
    console.recent[:] = []
    console.unsaved = 0


def test_nothing_is_written_while_nothing_goes_wrong():
    fresh()
    w = lastwords.LastWords("power-on")
    assert w.boot() is None
    w.keep(0)
    w.keep(10000)
    assert not exists(lastwords.FILE)


def test_problems_are_saved_at_most_every_ten_minutes_and_at_once_before_a_crash():
    fresh()
    w = lastwords.LastWords("the watchdog")
    console.problem("envoy: timed out")
    w.keep(60)
    with open(lastwords.FILE) as f:
        first = f.read()
    assert "envoy: timed out" in first and console.unsaved == 0
    console.problem("envoy: connection refused")
    w.keep(120)  # too soon: flash wears
    with open(lastwords.FILE) as f:
        assert f.read() == first
    w.keep(121, now=True)  # a crash restart is coming
    with open(lastwords.FILE) as f:
        assert "connection refused" in f.read()


def test_the_next_boot_tells_what_the_previous_run_said_last():
    fresh()
    w = lastwords.LastWords("the watchdog")
    console.problem("error: MemoryError: memory allocation failed; relay=off")
    w.keep(0)
    again = lastwords.LastWords("power-on")
    line = again.boot()
    assert "began by the watchdog" in line and "MemoryError" in line, line
    assert not exists(lastwords.FILE)
    words = lastwords.previous()
    assert words["cause"] == "the watchdog" and "MemoryError" in words["lines"][-1]


def test_a_damaged_file_is_no_story_and_no_crash():
    fresh()
    with open(lastwords.FILE, "wb") as f:
        f.write(b'{"cause": 7, "lines": [1, 2]}')
    assert "began by ?" in lastwords.LastWords("power-on").boot()
    with open(lastwords.FILE, "wb") as f:
        f.write(b"[1, 2, 3]")
    assert lastwords.LastWords("power-on").boot() is None
