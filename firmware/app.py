# The entry point (main.py calls run()): check the config, claim the heater OFF, log in to the
# cloud if a token is due (bootlogin.py, while the heap is clean), then build the diverter
# (diverter.py) and loop forever. Only this file and the console are loaded before that, so that
# a login at boot has the heap to itself.
import gc

from firmware import VERSION, console
from firmware.compat import print_exception, unload

CRASH_PAUSE_S = 30
ERROR = "internal-error"

current = None  # the running Diverter, for the REPL helpers in diag.py


def _config(path):
    # The checked config, or None (the problems are printed). Its checker is big and needed
    # once: it is unloaded here, and no name keeps it alive.
    from firmware import config

    cfg, errors, warnings = config.load(path)
    config = None
    unload("firmware.config", "firmware.pins", "firmware.strictjson")
    for w in warnings:
        console.log("config: warning: " + w)
    if not errors:
        return cfg
    for e in errors:
        console.problem("config: " + e)
    console.log(
        "config: %d problem(s): relay stays OFF and the cloud is not contacted. "
        "Fix config.json, then reset." % len(errors)
    )
    return None


def _login(cfg, board, spare):
    # A cloud login, if one is due, while the heap is clean (bootlogin.py); then its code goes.
    from firmware import bootlogin

    keeper = bootlogin.run(cfg, board, spare)
    bootlogin = None
    unload("firmware.bootlogin")
    return keeper


def start(path="config.json"):
    """Check the config and build the Diverter, or return None (the problems are printed)."""
    cfg = _config(path)
    gc.collect()
    if cfg is None:
        return None
    from firmware.board import Board, remember_relay

    board = Board(cfg["heater"]["relay_pin"], cfg["heater"]["active_high"])
    remember_relay(cfg["heater"])  # for boot.py, should config.json break later
    why = board.safe_mode()
    if why:
        console.log("safe mode: %s; the diverter is not started, the REPL is yours" % why)
        return None
    console.log(
        "diverter %s: heater %d W on GPIO%d, envoy %s, relay OFF (reset cause: %s)"
        % (
            VERSION,
            cfg["heater"]["power_w"],
            cfg["heater"]["relay_pin"],
            cfg["envoy"]["host"],
            board.reset_cause(),
        )
    )
    from firmware import lastwords

    line = lastwords.boot()
    lastwords = None
    unload("firmware.lastwords")
    if line:
        console.log(line)
    from firmware.http import spare_parts

    # The Envoy's TLS context and body buffer (a per-meter reading is 2 KB), first: for good.
    spare = spare_parts(3072, True, cfg["envoy"]["pin"] != "off")
    spare_parts = None
    keeper = None if cfg["envoy"]["token"] else _login(cfg, board, spare)
    # Modules loaded later for a while (a reconnection, a due login) add their names to the
    # interpreter's string pool for good; loading them once now puts that pool at the start of
    # the heap, not in the middle of it later, where it would split the free space.
    for name in ("firmware.account", "firmware.envoy_setup", "firmware.lastwords"):
        __import__(name)
    unload(
        "firmware.account",
        "firmware.guard",
        "firmware.jwt",
        "firmware.envoy_setup",
        "firmware.lastwords",
    )
    gc.collect()
    from firmware.link import Link

    # The first connection to the Envoy (its setup code, a handshake, the meters' reply) while
    # the rest of the diverter is not loaded yet: the largest need of a run, in the most room.
    link = Link(cfg, board, keeper, spare)
    console.log(link.tokens.load())  # the token bootlogin left, or the one on flash
    if link.poll(board.uptime(), False):
        link.look_for_battery(board.uptime())  # the Ensemble's code too, while there is room
    gc.collect()
    from firmware.diverter import Diverter

    return Diverter(cfg, board, link)


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
    and reset."""
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
