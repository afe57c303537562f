# REPL helpers. Press Ctrl-C to stop the diverter (relay OFF), then:
#   from firmware import diag
#   diag.status()        everything the diverter knows
#   diag.force_on(30)    relay ON for 30 minutes whatever the sun does, then back to auto
#   diag.force_off()     relay OFF until diag.auto()
#   diag.auto()          back to automatic
#   diag.repin()         forget the Envoy's pinned certificate (after replacing the Envoy)
#   diag.update()        look for a new release and install it (at boot: the board restarts)
#   diag.rollback()      go back to the previous version (the board restarts)
#   diag.run()           resume the diverter
# force_on, force_off and auto resume the diverter themselves. Secrets are never shown. Only the
# Diverter's public methods are used: status(), details(), force_on() ...
from firmware import app, console


def _d():
    if app.current is None:
        print("the diverter is not running (config problem or safe mode); see the boot messages")
    return app.current


def _opt(v, fmt="%s"):
    return "-" if v is None else fmt % v


def status():
    d = _d()
    if d is None:
        return
    s, x = d.status(), d.details()
    mode = s["mode"]
    if s["mode_left_min"] is not None:
        mode += " (%d min left)" % s["mode_left_min"]
    print("relay=%s reason=%s mode=%s" % (s["relay"], s["reason"], mode))
    print("grid: net_w=%s age_s=%s" % (_opt(s["net_w"]), _opt(s["age_s"])))
    if s["burst_mode"] is not None:  # the lag is measured in burst mode
        print(
            "lag: lag_s=%s (from steps %s, from timestamps %s%s) update_s=%s burst_mode=%s"
            % (
                _opt(s["lag_s"], "%g"),
                _opt(s["lag_step_s"], "%g"),
                _opt(s["lag_stamp_s"], "%g"),
                ", junk: " + s["lag_junk"] if s["lag_junk"] else "",
                _opt(s["update_s"], "%.0f"),
                s["burst_mode"],
            )
        )
    print("envoy: %s" % x["envoy"])
    if x["pinned_sha256"]:
        print("  pinned certificate sha256=%s" % x["pinned_sha256"])
    print("token: %s" % x["token_state"])  # its kind and days, never the token
    print(
        "heater: rated_w=%d learned_w=%s state=%s last_step_w=%s"
        % (x["heater_rated_w"], x["heater_learned_w"], s["heater"], x["heater_last_step_w"])
    )
    print(
        "energy: today_kwh=%.2f grid_kwh=%.2f yesterday_kwh=%.2f total_kwh=%.1f"
        " total_grid_kwh=%.1f"
        % (
            s["today_kwh"],
            s["today_grid_kwh"],
            x["yesterday_kwh"],
            s["total_kwh"],
            s["total_grid_kwh"],
        )
    )
    if "boost" in x:
        print("boost: " + x["boost"])
    if "tank" in x:
        print("tank: " + x["tank"])
    print("control: " + x["rules"])
    print(
        "board: %s wifi=%s clock=%s uptime_s=%d heap_used=%d heap_free=%d poll_alloc_bytes=%s"
        % (
            x["board"],
            x["wifi"],
            "set" if x["clock"] else "not set",
            s["uptime_s"],
            s["heap_used"],
            s["heap_free"],
            s["poll_alloc"],
        )
    )
    print("firmware: %s, this run began by %s" % (s["version"], s["reset_cause"]))
    if s["problem"]:
        print("problem now: %s" % s["problem"])
    _updates(d)
    for line in console.recent:
        print("  recent: " + line)
    words = x["last_words"]
    if words:
        print("the previous run began by %s; its last problems:" % words.get("cause"))
        lines = words.get("lines")
        for line in lines if type(lines) is list else ():
            print("  before: %s" % line)


def force_on(minutes=60):
    d = _d()
    if d is not None:
        d.force_on(minutes)
        run()


def force_off():
    d = _d()
    if d is not None:
        d.force_off()
        run()


def auto():
    d = _d()
    if d is not None:
        d.auto()
        run()


def repin():
    d = app.current
    if d is not None:
        d.repin()
    else:
        from firmware import store
        from firmware.envoy import PIN_FILE

        store.remove(PIN_FILE)
    print("the Envoy's certificate will be pinned again at the next connection")


def _updates(d):
    from firmware import update_ask
    from firmware.compat import unload

    for line in update_ask.lines(d.cfg):
        print("update: " + line)
    unload("firmware.update_ask", "firmware.update_slot", "firmware.update_manifest")


def update():
    """Look for a new release and install it: at boot, in a clean heap (the board restarts)."""
    d = _d()
    if d is None:
        return
    from firmware import update_ask
    from firmware.compat import unload

    try:
        _updates(d)
        update_ask.install(d, "latest", "diag.update()")
    except ValueError as e:
        print("update: not asked for: %s" % e)
    finally:
        unload("firmware.update_ask", "firmware.update_slot", "firmware.update_manifest")


def rollback():
    """Back to the previous version on this board; the one left is never installed again
    automatically. The board restarts into it."""
    from firmware import update_slot

    p, why = update_slot.read()
    if (
        p is None
        or update_slot.roll_back(p, "asked for at the REPL (diag.rollback())", True) is None
    ):
        print(
            "update: no previous version on this board to go back to%s"
            % (" (app.json is %s)" % why if why else "")
        )
        return
    print(update_slot.read()[0]["note"])
    d = app.current
    if d is not None:
        d.restart_for_update("update: restarting into the previous version")
    from firmware.board import Board

    Board.reset(None)


def run():
    if _d() is not None:
        app.resume()
