# REPL helpers. Press Ctrl-C to stop the diverter (relay OFF), then:
#   from firmware import diag
#   diag.status()        everything the diverter knows
#   diag.force_on(30)    relay ON for 30 minutes whatever the sun does, then back to auto
#   diag.force_off()     relay OFF until diag.auto()
#   diag.auto()          back to automatic
#   diag.repin()         forget the Envoy's pinned certificate (after replacing the Envoy)
#   diag.run()           resume the diverter
# force_on, force_off and auto resume the diverter themselves. Secrets are never shown.
import gc

from firmware import app, clock, console, store


def _d():
    if app.current is None:
        print("the diverter is not running (config problem or safe mode); see the boot messages")
    return app.current


def status():
    d = _d()
    if d is None:
        return
    b, e, t, h, c = d.board, d.envoy, d.tokens, d.heater, d.control
    up = b.uptime()
    now = b.now()
    print(
        "relay=%s reason=%s override=%s"
        % ("on" if b.relay_on else "off", d.reason, d.override or "none")
    )
    print("grid: %s" % d.summary(up))
    print(
        "envoy: %s firmware=%s serial=%s source=%s tls_handshakes=%d pin=%s"
        % (d.cfg["envoy"]["host"], e.software, e.serial, e.describe(), e.handshakes(), e.pin)
    )
    pinned = e.pinned()
    if pinned:
        print("  pinned certificate sha256=%s" % pinned)
    if t.token is None:
        print("token: none (%s)" % (t.problem or "not fetched yet"))
    else:
        days = t.days_left(now) if d.clock_ok else None
        print(
            "token: %s%s, %s days left, renewal: %s; cloud logins in 24 h: %d,"
            " failures in a row: %d"
            % (
                t.kind(),
                " (pasted)" if t.pasted else "",
                "?" if days is None else "%.1f" % days,
                (t.renewal_due(now) or "not due") if d.clock_ok else "needs the clock",
                t.logins_today(now),
                t.failures(),
            )
        )
    print(
        "heater: rated_w=%d learned_w=%s drawing=%s last_step_w=%s"
        % (
            h.rated_w,
            h.learned_w,
            {True: "yes", False: "no (tank hot)", None: "unknown"}[h.drawing],
            h.last_step,
        )
    )
    print(
        "energy: today_kwh=%.2f grid_kwh=%.2f yesterday_kwh=%.2f total_kwh=%.1f"
        " total_grid_kwh=%.1f"
        % (
            d.energy.today_wh / 1000,
            d.energy.today_grid_wh / 1000,
            d.energy.yesterday_wh / 1000,
            d.energy.total_wh / 1000,
            d.energy.total_grid_wh / 1000,
        )
    )
    if d.boost.enabled():
        print(
            "boost: min_kwh=%.1f window=%s active=%s to_go_kwh=%.2f"
            % (
                d.boost.target_wh / 1000,
                d.cfg["boost"]["window"],
                d.boosting,
                d.boost.remaining_wh / 1000,
            )
        )
    print(
        "control: max_import_w=%d start_delay_s=%s stop_delay_s=%s min_on_s=%s "
        "min_off_s=%s stale_s=%s poll_s=%s"
        % (
            c.max_import,
            c.start_delay,
            c.stop_delay,
            c.min_on,
            c.min_off,
            c.stale_s,
            d.poll_s,
        )
    )
    local = d.local()
    print(
        "board: %s wifi=%s clock=%s uptime_s=%d heap_free=%d poll_alloc_bytes=%s"
        % (
            b.name,
            "up" if b.wifi_up() else "down",
            "%s %s" % (clock.date(local), clock.hms(local)) if d.clock_ok else "not set",
            up,
            gc.mem_free() if hasattr(gc, "mem_free") else -1,
            d.poll_alloc,
        )
    )
    if d.problem:
        print("problem now: %s" % d.problem[1])
    for line in console.recent:
        print("  recent: " + line)


def force_on(minutes=60):
    d = _d()
    if d is None:
        return
    d.override = app.MANUAL_ON
    d.override_until = d.board.uptime() + minutes * 60
    console.log("manual: relay forced ON for %d min (diag.auto() to end it)" % minutes)
    run()


def force_off():
    d = _d()
    if d is None:
        return
    d.override = app.MANUAL_OFF
    console.log("manual: relay forced OFF until diag.auto()")
    run()


def auto():
    d = _d()
    if d is None:
        return
    d.override = None
    console.log("manual: back to automatic")
    run()


def repin():
    from firmware.envoy import PIN_FILE

    store.remove(PIN_FILE)
    d = app.current
    if d is not None:
        d.envoy.reset()
        d.next_envoy = 0
    print("the Envoy's certificate will be pinned again at the next connection")


def run():
    if _d() is not None:
        app.resume()
