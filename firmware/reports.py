# The console's periodic lines, rendered from the status snapshot (diverter.Diverter.status): a
# summary every minute and a health line every hour.


def _opt(value, fmt="%d"):
    return "-" if value is None else fmt % value


def summary(s):
    burst = s.get("output") == "burst"
    battery = ""
    if "battery_soc" in s:  # a battery site
        battery = " battery_w=%s soc=%s" % (_opt(s["battery_w"]), _opt(s["battery_soc"]))
        if s["battery_problem"]:
            battery += " battery=" + s["battery_problem"].replace(" ", "-")
    if "tank_sensor" in s:  # a tank sensor
        battery += " tank_c=%s" % _opt(s["tank_c"], "%.1f")
        if s["tank_sensor"] != "ok":
            battery += " tank=" + s["tank_sensor"]
    return (
        "summary net_w=%s %s=%s reason=%s today_kwh=%.2f grid_kwh=%.2f token_days=%s age_s=%s%s%s"
        % (
            _opt(s["net_w"]),
            "burst" if burst else "relay",
            ("%s duty_pct=%d" % (s["relay"], s["power"] * 100)) if burst else s["relay"],
            s["reason"],
            s["today_kwh"],
            s["today_grid_kwh"],
            _opt(s["token_days"], "%.0f"),
            _opt(s["age_s"]),
            s["lag_line"] if burst else "",  # burst.Control.status(): the lag it measures
            battery,
        )
    )


def health(s):
    """Is the board itself well? heap_used is taken right after a full collection, so it must
    not grow from hour to hour."""
    return "health uptime_h=%d heap_used=%d heap_free=%d envoy_handshakes=%d poll_alloc=%s" % (
        s["uptime_s"] // 3600,
        s["heap_used"],
        s["heap_free"],
        s["envoy_handshakes"],
        s["poll_alloc"],
    )
