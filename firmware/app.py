# The entry point (main.py calls run()): start, with the boot sequence's code (startup.py) loaded
# only for it, then loop forever.
import gc

from firmware import console
from firmware.compat import print_exception, unload

CRASH_PAUSE_S = 30
ERROR = "internal-error"

current = None  # the running Diverter, for the REPL helpers in diag.py


def start(path="config.json"):
    """Check the config and build the Diverter, or return None (the problems are printed). The
    boot sequence's code is unloaded before the Diverter's loads: its construction is the
    fullest moment of a boot."""
    from firmware import startup

    try:
        parts = startup.start(path)
    finally:
        startup = None
        unload("firmware.startup")
    if parts is None:
        return None
    cfg, board, link, watch, mqtt = parts
    gc.collect()
    from firmware.diverter import Diverter

    d = Diverter(cfg, board, link, mqtt)
    d.watch = watch
    return d


def resume():
    """Run (or resume, after Ctrl-C) the diverter loop."""
    try:
        current.loop()
    except KeyboardInterrupt:
        # On the unix port a Ctrl-C can land inside gc.collect() and leave the collector marked
        # busy, so that every allocation fails; one complete collection clears that.
        gc.collect()
        current.stop()
        current.board.wdt_relax()
        console.log("stopped: relay OFF. Resume: from firmware import diag; diag.run()")


def run(path="config.json"):
    """main.py: start and loop; after an unexpected crash, pause (so Ctrl-C reaches the REPL)
    and reset (also when it came before the diverter started: a new version's trial counts the
    boot, see update_slot.py)."""
    global current
    try:
        current = start(path)
        if current is not None:
            resume()
    except Exception as e:
        print_exception(e)
        console.problem(
            "fatal: %r; relay OFF, restarting in %d s (Ctrl-C for the REPL)" % (e, CRASH_PAUSE_S)
        )
        if current:
            current.output.off(ERROR)
            current.keep_last_words(current.board.uptime())
            current.board.wdt_relax()
        from firmware.compat import sleep_ms

        sleep_ms(CRASH_PAUSE_S * 1000)
        if current:
            current.board.reset()
        from firmware.board import Board

        Board.reset(None)  # a crash before the board was set up: the reset needs no pin
