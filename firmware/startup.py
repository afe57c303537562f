# The boot sequence, run once by app.start() and then unloaded: check the config, claim the heater
# OFF, look for or install an update when one is due (update_boot.py), log in to the cloud if a
# token is due (bootlogin.py), both while the heap is clean, make the first Envoy connection and
# MQTT's first connection and discovery, and only then build the diverter (diverter.py).
import gc

from firmware import VERSION, console
from firmware.compat import const, unload

_DISCOVERY_MS = const(5000)  # MQTT's discovery at boot, at most (the rest in the passes)


def _config(path):
    # The checked config, or None (the problems are printed). Its checker is big and needed
    # once: it is unloaded here, and no name keeps it alive.
    from firmware import config

    cfg, errors, warnings = config.load(path)
    config = None
    unload("firmware.config", "firmware.pins", "firmware.strictjson", "firmware.release_key")
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


def _trial():
    # The version on trial, if it is this one. Without a trial or a note, the pointer's code is
    # not loaded (its names would stay in the heap for good).
    from firmware import store

    p, _ = store.read("app.json", dict, 1024)  # damaged: boot.py said so
    if p is None or (p.get("trial") is None and not p.get("note")):
        return None
    from firmware import update_slot

    p, _ = update_slot.read()
    here = update_slot.running()
    unload("firmware.update_slot")
    if p and p.get("trial") is not None and p["version"] == VERSION and p["active"] == here:
        return VERSION
    if p and p.get("note"):
        console.log(p["note"])  # a rollback, said again until the next install
    return None


def _updates(cfg, board, trial):
    # A look or an install that is due runs now, in a clean heap and before a login (an install
    # restarts the board). Then what watches the run: the trial, the next look.
    look_at = None
    if cfg["update"]["url"]:
        from firmware import update_boot

        look_at, looked = update_boot.run(cfg, board)
        update_boot = None
        unload("firmware.update_boot")
        if looked:
            # A look leaves the heap fragmented (its TLS session, manifest and code came and
            # went): the diverter starts after a reset instead, in a clean heap.
            console.log("update: restarting after the look, in a fresh heap")
            board.reset()
    if trial is None and look_at is None:
        return None
    from firmware.update_watch import watch

    try:
        return watch(trial, look_at, cfg["update"]["check_h"])
    finally:
        unload("firmware.update_watch")


def start(path):
    """Check the config, claim the relay, log in if needed and connect to the Envoy: the
    Diverter's parts (cfg, board, link, watch, mqtt), or None (the problems are printed). app.py
    builds the Diverter once this module's code is gone."""
    cfg = _config(path)
    gc.collect()
    trial = _trial()
    if cfg is None:
        if trial:  # counted as a failed boot of the trial: boot.py goes back after three
            raise RuntimeError("config.json does not suit %s, which is on trial" % trial)
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
    watch = _updates(cfg, board, trial)
    gc.collect()
    keeper = None if cfg["envoy"]["token"] else _login(cfg, board, spare)
    if keeper is not None and keeper.source == "new" and keeper.saved:
        # A login leaves the heap fragmented (its roots, replies and code came and went): the
        # diverter starts after a reset instead, in a clean heap, with the token from flash.
        console.log("token: restarting with the new token, in a fresh heap")
        board.reset()
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
    link.tokens.read_login_record()
    return cfg, board, link, watch, _mqtt(cfg, board, link)


def _mqtt(cfg, board, link):
    # MQTT's first connection and its whole discovery, with the Diverter's code not loaded yet:
    # MQTT's rare code comes and goes where there is room, and the Diverter's fills the gaps.
    if not cfg["mqtt"]["host"]:
        return None
    from firmware.mqtt import Mqtt

    q = Mqtt(cfg, board, link)
    q.up = board.uptime()
    q.send(q.up)  # no connection yet: it connects
    if q.sock is not None:
        from firmware import mqtt_ha

        mqtt_ha.run(q, _DISCOVERY_MS)
        mqtt_ha = None
        unload("firmware.mqtt_ha")
    return q
