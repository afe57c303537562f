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


def test_a_first_boot_has_no_story():
    fresh()
    assert lastwords.boot() is None
    assert lastwords.previous() is None


def test_the_next_boot_tells_what_the_previous_run_said_last():
    fresh()
    console.problem("envoy: timed out")
    console.problem("error: MemoryError: memory allocation failed; relay=off")
    assert console.unsaved == 2
    assert lastwords.keep("the watchdog") and console.unsaved == 0
    line = lastwords.boot()
    assert "began by the watchdog" in line and "MemoryError" in line, line
    assert not exists(lastwords.FILE)
    words = lastwords.previous()
    assert words["cause"] == "the watchdog" and "timed out" in words["lines"][0]


def test_a_damaged_file_is_no_story_and_no_crash():
    fresh()
    with open(lastwords.FILE, "wb") as f:
        f.write(b'{"cause": 7, "lines": [1, 2]}')
    assert "began by ?" in lastwords.boot()
    with open(lastwords.FILE, "wb") as f:
        f.write(b"[1, 2, 3]")
    assert lastwords.boot() is None
