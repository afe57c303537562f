# The Envoy's Ensemble replies (home batteries), read where they stand in the reply's bytes: a few
# bytes allocated instead of the whole reply as objects. Their field names are unique in them,
# and a name inside a string cannot match (its quotes are escaped). Loaded to detect a battery
# (at connect, and each hour while there is none) and kept only on a battery site.
from firmware import console
from firmware import envoy_parse as ep
from firmware.compat import unload

CHARGE = "/ivp/ensemble/secctrl"  # SoC, reserve, capacity (Max_energy, Wh)
POWER = "/ivp/ensemble/power"  # per IQ Battery: real_power_mw, + discharging
SOC_S = 60  # a battery site reads its SoC
LOOK_S = 3600  # a site without a battery looks for one again


def look(link, up):
    """The link's battery work that is not per poll: a battery site's SoC (each minute), or,
    without a battery, a look for one (each hour; a new one means connecting again)."""
    b = link.reading.battery
    link.next_battery = up + (SOC_S if b else LOOK_S)
    if b is not None:
        return b.read_charge(link.envoy)
    if check(link.envoy):
        console.log("battery: the Envoy shows one now; connecting again to read it")
        link.restart()
    unload("firmware.ensemble")


def get(e, path):
    """The Envoy's reply to path (its body valid until the next request), or None when it is
    not served or anything goes wrong (a network error shows in the next poll)."""
    try:
        r = e._get(path)
    except Exception:
        return None
    return None if r.looks_like_html() else r


def number_after(buf, n, key, start=0):
    """The number that follows key (a quoted name: b'"agg_soc"') and its colon in buf[:n], or
    None."""
    i = buf.find(key, start, n)
    if i < 0:
        return None
    i = _skip(buf, i + len(key), n)
    if i >= n or buf[i] != 58:  # ":"
        return None
    i = _skip(buf, i + 1, n)
    j = ep._number_end(buf, i, n)
    return ep._power(ep._number(buf, i, j)) if 0 < j - i <= 24 else None


def has_items(buf, n, key):
    """True when key (quoted) names a non-empty list in buf[:n]."""
    i = buf.find(key, 0, n)
    if i < 0:
        return False
    i = _skip(buf, i + len(key), n)
    if i >= n or buf[i] != 58:
        return False
    i = _skip(buf, i + 1, n)
    if i >= n or buf[i] != 91:  # "["
        return False
    i = _skip(buf, i + 1, n)
    return i < n and buf[i] != 93  # "]"


def _skip(buf, i, n):
    while i < n and buf[i] in b" \t\r\n":
        i += 1
    return i


def capacity(buf, n):
    """secctrl's Max_energy: Wh of batteries commissioned, or None for none."""
    wh = number_after(buf, n, b'"Max_energy"')
    return wh if wh is not None and wh > 0 else None


def check(e):
    """True when the Envoy shows battery capacity now (the hourly look on a site without)."""
    if not e.needs_token():
        return False  # firmware before 7: no Ensemble endpoints on the captures
    r = get(e, CHARGE)
    return r is not None and capacity(r.raw, r.length) is not None


def charge(buf, n):
    """secctrl -> (SoC %, reserve %), None when absent. agg_soc covers IQ and AC Batteries
    together; the reserve is adjusted_backup_soc."""
    return _pct(number_after(buf, n, b'"agg_soc"')), _pct(
        number_after(buf, n, b'"adjusted_backup_soc"')
    )


def _pct(v):
    return int(v) if v is not None and 0 <= v <= 100 else None


def power(buf, n):
    """/ivp/ensemble/power -> the IQ Batteries' W (+ discharging), or None when it lists none.
    The key really is "devices:" with a colon; an empty list means no battery reports."""
    if not has_items(buf, n, b'"devices:"'):
        return None
    key = b'"real_power_mw"'
    mw = count = i = 0
    while True:
        i = buf.find(key, i, n)
        if i < 0:
            break
        v = number_after(buf, n, key, i)
        if v is None:
            raise ValueError("an IQ Battery's real_power_mw is not a number")
        mw += v
        count += 1
        i += len(key)
    if not count:
        raise ValueError("the IQ Batteries' power lists no real_power_mw")
    return int(round(mw / 1000))
