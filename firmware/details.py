# The diverter's details for a person at the REPL (Diverter.details(), shown by diag.status()):
# the Envoy session, the token's renewal and the account guard, the rules' settings. Loaded only
# when asked, so its code costs no heap while the diverter runs.
from firmware.compat import unload


def details(d):
    link, rules, h = d.link, d.policy.rules, d.accounting.heater
    e, k = link.envoy, link.tokens.keeper
    now = d.board.now()
    out = {
        "envoy": "%s:%s firmware=%s serial=%s source=%s tls_handshakes=%d pin=%s"
        % (e.host, e.port or "-", e.software, e.serial, e.describe(), e.handshakes(), e.pin),
        "pinned_sha256": e.pinned(),
        "clock": link.clock_ok,
        "heater_rated_w": h.rated_w,
        "heater_learned_w": h.learned_w,
        "heater_last_step_w": h.last_step,
        "yesterday_kwh": d.accounting.energy.yesterday_wh / 1000,
        "rules": _rules(d, rules),
        "board": d.board.name,
        "wifi": "up" if d.board.wifi_up() else "down",
    }
    if k.token is None:
        out["token_state"] = "none (%s)" % (k.problem or "not fetched yet")
    else:
        days = link.tokens.days_left()
        out["token_state"] = (
            "%s%s, %s days left, renewal: %s; cloud logins in 24 h: %d, failures in a row: %d"
            % (
                k.kind(),
                " (pasted)" if k.pasted else "",
                "?" if days is None else "%.1f" % days,
                (k.renewal_due(now) or "not due") if link.clock_ok else "needs the clock",
                k.logins_today(now),
                k.failures(),
            )
        )
    from firmware import lastwords

    out["last_words"] = lastwords.previous()
    b = d.policy.boost
    if b is not None:
        out["boost"] = "min_kwh=%.1f window=%s active=%s to_go_kwh=%.2f" % (
            b.target_wh / 1000,
            d.cfg["boost"]["window"],
            d.policy.boosting,
            b.remaining_wh / 1000,
        )
    if getattr(d, "tank", None) is not None:
        out["tank"] = _tank(d.tank, link.local())
    return out


def _rules(d, rules):
    if d.output.burst:  # burst.Control: no allowance, no minimum times (it used to crash here)
        h = d.cfg["heater"]
        lo, hi = rules.lag.window()
        return "burst window_s=%s mains_hz=%s stale_s=%s poll_s=%s lag_model=%d-%d passes%s" % (
            h["burst_window_s"],
            h["mains_hz"],
            rules.stale_s,
            d.poll_s,
            lo,
            hi,
            " (slow mode)" if rules.slow else "",
        )
    return (
        "max_import_w=%d start_delay_s=%s stop_delay_s=%s "
        "min_on_s=%s min_off_s=%s stale_s=%s poll_s=%s"
        % (
            rules.max_import,
            rules.start_delay,
            rules.stop_delay,
            rules.min_on,
            rules.min_off,
            rules.stale_s,
            d.poll_s,
        )
    )


def _tank(tank, local):
    s, r, t = tank.sensor, tank.plan, tank.t
    text = "tank_c=%s sensor=%s on GPIO%d" % (
        "-" if s.c is None else "%.1f" % s.c,
        s.state,
        t["pin"],
    )
    if s.rom is not None:
        text += " rom=" + "".join("%02x" % b for b in s.rom)
    if s.problem:
        text += " (%s)" % s.problem
    if t["max_c"]:
        text += "; max_c=%g%s" % (r.limit, " reached" if r.full else "")
    if t["min_c"]:
        text += "; min_c=%g by %s" % (t["min_c"], t["hot_by"])
    if t["legionella_c"]:
        from firmware import tank_rules

        left = None if local is None else tank_rules.due_in(r, local // 86400)
        unload("firmware.tank_rules")
        text += "; legionella_c=%g in %s, due %s" % (
            t["legionella_c"],
            t["legionella_window"],
            "(needs the clock)" if left is None else "now" if left == 0 else "in %d days" % left,
        )
    if r.heat:
        text += "; heating from the grid: " + r.heat.reason
    return text
