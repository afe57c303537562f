# The Envoy's Ensemble replies (home batteries), read where they stand in the reply's bytes: a few
# bytes allocated instead of the whole reply as objects. Their field names are unique in them,
# and a name inside a string cannot match (its quotes are escaped). Loaded after each connection
# and each hour to look for a battery, each minute on a battery site (its SoC), and dropped after
# each look: the poll's battery power needs only envoy_parse's number_after and has_items. It
# reads replies (into the battery it is given); what a look means for the link is
# link.look_for_battery's.
from firmware import console
from firmware.compat import unload
from firmware.envoy_parse import has_items, number_after

CHARGE = "/ivp/ensemble/secctrl"  # SoC, reserve, capacity (Max_energy, Wh)
POWER = "/ivp/ensemble/power"  # per IQ Battery: real_power_mw, + discharging
SOC_S = 60  # a battery site reads its SoC
LOOK_S = 3600  # a site without a battery looks for one again
FORGET_LOOKS = 3  # looks in a row that show no battery before it is forgotten


def look(e, b):
    """One look at the Envoy e's batteries, with b the battery known so far (None: none): its
    charge read into b. -> (the battery's description, "" for none; conclusive: every reply came,
    so that a battery not shown is truly gone)."""
    _failed[0] = False
    ensemble = e.needs_token()  # firmware before 7: no Ensemble endpoints in the captures
    r = get(e, CHARGE) if ensemble else None
    cap = None
    if r:
        cap = capacity(r.raw, r.length)
        if b is not None:
            b.read_charge(r.raw, r.length)  # before the next request reuses the buffer
    elif b is not None:
        b.charge(None, None)
    if not e.battery:  # not looked for since this connection, or none then
        e.battery = _find(e, cap) if ensemble else ""
    return e.battery, ensemble and not _failed[0]


def find(e):
    """The host tools' look: e.battery, found now ("" for none)."""
    r = get(e, CHARGE)
    e.battery = _find(e, capacity(r.raw, r.length) if r else None)
    return e.battery


def _find(e, cap):
    # Where the battery's power comes from: the storage CT (setup found it in /ivp/meters),
    # read with the grid CT (the same 1-s snapshot); else the IQ Batteries' own figure (its
    # "devices:" list names the same batteries as /ivp/ensemble/inventory, in a tenth of the
    # bytes). An AC Battery alone reports only in production.json, every 10-15 minutes: too
    # slow for the heater, so it has no live source. -> a description, or "" for no battery.
    if e.storage:
        how = "storage CT eid %d" % e.storage
    else:
        p = get(e, POWER)
        if p and has_items(p.raw, p.length, b'"devices:"'):
            e.storage = 0
            e._polls.append((POWER, e.conn.head("GET", POWER, e._headers)))
            how = POWER
        elif cap is None or p is False:  # none; or no reply, which proves nothing
            return ""
        else:
            how = "no live source (an AC Battery reports every 10-15 min)"
    return "%s Wh, power from %s" % ("?" if cap is None else "%d" % cap, how)


_failed = [False]  # a request of this look got no usable reply: the look proves nothing


def get(e, path):
    """The Envoy's reply to path (its body valid until the next request); None when it is not
    served (404); False when anything else goes wrong (a network error shows in the next
    poll): no reply, another status, an HTML page (the login's)."""
    try:
        r = e.conn.send(e.conn.head("GET", path, e._headers))
        if r.status == 404:
            return None
        if r.status == 200 and not r.looks_like_html():
            return r
    except Exception:
        pass
    _failed[0] = True
    return False


def capacity(buf, n):
    """secctrl's Max_energy: Wh of batteries commissioned, or None for none."""
    wh = number_after(buf, n, b'"Max_energy"')
    return wh if wh is not None and wh > 0 else None


# -- what a look means for the link (link.look_for_battery, right after look()) -------------


def settle(link, seen, conclusive):
    """What a look (ensemble.look) means for the link: a battery seen, or one seen before not."""
    if seen:
        found(link, seen)
    else:  # forgotten only when the Envoy says so
        unseen(link, conclusive)


def found(link, description):
    """At each connection: the battery the Envoy showed (description)."""
    from firmware import battery

    r = link.reading
    if r.battery is not None and r.battery.source == description:
        r.battery.unseen = 0
        return
    b, c = link.battery_cfg
    b = b or {"priority": battery.BATTERY, "min_soc": 50}
    r.battery = battery.Battery(b, c["max_import_w"], c["stale_s"], description)
    more = " min_soc=%d%%" % b["min_soc"] if b["priority"] == battery.HEATER else ""
    console.log("battery: %s; priority=%s%s" % (description, b["priority"], more))


def unseen(link, conclusive):
    """A look after a connection did not show the battery seen before. Its data counts as
    missing at once (battery first with the margin); it is forgotten only after FORGET_LOOKS
    looks in a row whose replies all came and showed none (conclusive): one failed request
    after a reconnection must not leave the heater free to drain it."""
    r = link.reading
    b = r.battery
    b.w = b.at = None
    if not conclusive:
        b.unseen = 0
        return
    b.unseen += 1
    if b.unseen >= FORGET_LOOKS:
        console.log("battery: the Envoy showed none %d times in a row; forgotten" % b.unseen)
        r.battery = None
        unload("firmware.battery")
