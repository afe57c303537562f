# Parsing Envoy replies into the one number we need: net grid power in watts, positive = import.
# Pure functions on parsed JSON; each firmware quirk is named where it is handled.
# Fixture folders under host_tests/fixtures/envoy show every case.

NET = "net-consumption"
TOTAL = "total-consumption"
PRODUCTION = "production"

NO_CT = "this Envoy has no consumption CT: net power is unavailable; the relay stays OFF"


class NoNetPower(Exception):
    """The Envoy cannot give net power (no consumption CT, or not metered). Not transient."""


def parse_info(body):
    """/info (XML, no auth) -> (software "D8.2.4345", version (8, 2, 4345), serial)."""
    text = str(body, "utf-8") if type(body) is not str else body
    software = _xml_field(text, "software")
    if not software:
        raise ValueError("/info has no <software> field: is this an Envoy?")
    return software, version_tuple(software), _xml_field(text, "sn")


def _xml_field(text, tag):
    i = text.find("<%s>" % tag)
    if i < 0:
        return None
    i += len(tag) + 2
    j = text.find("<", i)
    return text[i:j].strip() if j > i else None


def version_tuple(software):
    # "D8.2.4345", "R3.9.36", "M4.2.33": a release letter, then dotted numbers.
    s = software.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    out = []
    for part in s.split("."):
        digits = ""
        for c in part:
            if not c.isdigit():
                break
            digits += c
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


def needs_token(version):
    # Firmware 7.0 and newer serve HTTPS and want the Entrez JWT; older firmware needs none.
    return version >= (7,)


def plan_from_meters(meters):
    """/ivp/meters -> how to compute net power:
    ("net", eid): the net-consumption CT measures the grid;
    ("total-production", total_eid, production_eid): only a total-consumption CT, so
    net = total - production (pyenphase fixture 8.3.5433_tot_is_net_cons).
    Raises NoNetPower, or ValueError when the reply is not a meter list (old firmware)."""
    if type(meters) is not list:
        raise ValueError("/ivp/meters is not a list of meters")
    if not meters:
        raise NoNetPower(NO_CT + " (the Envoy lists no meters: it is not a metered model)")
    enabled = {}
    disabled = []
    for m in meters:
        if type(m) is not dict:
            raise ValueError("/ivp/meters holds something that is not a meter")
        kind = m.get("measurementType")
        if m.get("state") == "enabled":
            enabled[kind] = m.get("eid")
        else:
            disabled.append(kind)
    if enabled.get(NET) is not None:
        return ("net", enabled[NET])
    if enabled.get(TOTAL) is not None and enabled.get(PRODUCTION) is not None:
        return ("total-production", enabled[TOTAL], enabled[PRODUCTION])
    if NET in disabled or TOTAL in disabled:
        raise NoNetPower(NO_CT + " (its consumption CT is disabled in the Envoy's settings)")
    raise NoNetPower(NO_CT)


def eids(plan):
    return plan[1:]


def _entry(readings, eid):
    # 8.3.x adds an unlisted all-zero entry (eid 1023410688) and the lists can differ in size,
    # so match by eid, never by position.
    if type(readings) is dict:
        return readings if readings.get("eid") == eid else None
    if type(readings) is list:
        for r in readings:
            if type(r) is dict and r.get("eid") == eid:
                return r
    return None


def reading(readings, eid):
    """(activePower, timestamp) of one meter in /ivp/meters/readings (a list) or
    /ivp/meters/readings/<eid> (one object). The top-level activePower, never the channels:
    on some split-phase systems the third channel holds junk (8.2.4286)."""
    r = _entry(readings, eid)
    if r is None:
        raise ValueError("the readings have no meter %s" % eid)
    p = r.get("activePower")
    if type(p) not in (int, float):
        raise ValueError("meter %s has no activePower" % eid)
    return p, r.get("timestamp")


def scan_reading(buf, n, eid):
    """Fast path for /ivp/meters/readings/<eid>: (activePower, timestamp) from the reply's
    top-level fields, which the Envoy writes before "channels", found with bytes.find instead
    of building every object (a poll then allocates a few hundred bytes, not ~7 KB). None when
    the reply is not laid out that way or names another meter: the caller parses it fully."""
    end = buf.find(b'"channels"', 0, n)
    if end < 0:
        end = n
    if _number(buf, b'"eid"', end) != eid:
        return None
    p = _number(buf, b'"activePower"', end)
    if p is None:
        return None
    ts = _number(buf, b'"timestamp"', end)
    return p, None if ts is None else int(ts)


def _number(buf, key, end):
    i = buf.find(key, 0, end)
    if i < 0:
        return None
    i = buf.find(b":", i + len(key), end)
    if i < 0:
        return None
    j = i + 1
    while j < end and buf[j] in b" \t\r\n":
        j += 1
    k = j
    while k < end and buf[k] in b"-+.0123456789eE":
        k += 1
    if k == j:
        return None
    v = float(buf[j:k])
    return int(v) if v == int(v) and b"." not in buf[j:k] else v


def net_from_readings(plan, first, second=None):
    """Net watts (int, + import) and the reading's timestamp. first holds the readings with
    plan's first eid; second, if given, those with the second (else first is searched)."""
    p, ts = reading(first, plan[1])
    if plan[0] == "total-production":
        q, _ = reading(second if second is not None else first, plan[2])
        p -= q
    return int(round(p)), ts


def net_from_production(report):
    """/production.json (firmware without /ivp/meters): the consumption entry whose
    measurementType is net-consumption and whose activeCount > 0, field wNow."""
    if type(report) is not dict:
        raise ValueError("production.json is not a JSON object")
    entries = report.get("consumption")
    if not entries:
        raise NoNetPower(NO_CT + " (production.json has no consumption data)")
    for c in entries:
        if type(c) is dict and c.get("measurementType") == NET:
            if not c.get("activeCount"):
                # A metered Envoy without consumption CTs still lists the entry, with junk
                # values and activeCount 0 (7.3.130_no_consumption).
                raise NoNetPower(NO_CT + " (production.json: net-consumption has no active CT)")
            w = c.get("wNow")
            if type(w) not in (int, float):
                raise ValueError("production.json net-consumption has no wNow")
            return int(round(w)), c.get("readingTime")
    raise NoNetPower(NO_CT + " (production.json has no net-consumption entry)")
