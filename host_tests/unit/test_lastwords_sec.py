# Last words in a restart loop (issue 20): a board that restarts again and again must not write
# its last words at every boot (flash wears); a run that lasts writes as before (both runtimes).
from support import tmpdir

from firmware import console, lastwords

EARLY = 3  # EARLY


def run_for(seconds):
    """A new run (boot), seconds of uptime into it."""
    line = lastwords.boot()
    console.set_clock(None, lambda: seconds)
    return line


def writes(runs, seconds):
    n = 0
    for i in range(runs):
        run_for(seconds)
        console.problem("fatal: crash %d; relay OFF, restarting in 30 s" % i)
        n += 1 if lastwords.keep("a software reset or a crash") else 0
    return n


def test_a_restart_loop_writes_the_last_words_a_few_times_not_at_every_boot():
    import os

    assert getattr(lastwords, "EARLY", EARLY) == EARLY
    os.chdir(tmpdir())
    try:
        n = writes(50, 35)
        assert n == EARLY, n  # before: 50
        words = lastwords.previous()["lines"]  # the first crashes' words are kept
        assert "crash %d" % (EARLY - 1) in words[-1], words
        # A run that lasts WRITE_EVERY_S writes again, and the count starts afresh.
        assert writes(1, lastwords.WRITE_EVERY_S) == 1
        assert writes(5, 35) == EARLY
    finally:
        console.set_clock(None, None)


def test_a_damaged_count_writes_nothing_while_young():
    import os

    os.chdir(tmpdir())
    with open(lastwords.FILE, "w") as f:
        f.write('{"cause": "x", "lines": [], "early": "many"}')
    try:
        assert writes(1, 35) == 0
        assert writes(1, lastwords.WRITE_EVERY_S) == 1
    finally:
        console.set_clock(None, None)
