# The Envoy's replies read as JSON objects: the readings the fast scan (envoy_parse.scan_reading)
# gives up on (a meter's entry in a list, a junk reading to name), and /production.json on
# firmware without /ivp/meters. Loaded at the first such reply and kept: a site whose replies
# the scan reads never loads it.
from firmware.compat import const
from firmware.envoy_parse import NET, NO_CT, Glitch, NoNetPower, is_eid, stamp, watts

_ALL_ZERO = const("the grid CT reads 0 W at 0 V, a bug of some 8.3 firmware")
_ZERO_PHASE = const(
    "a phase of the CT reads 0 V while another is live, a bug of some 8.3 firmware"
)
_NO_ACTIVE = const(
    "production.json says activeCount 0 for a CT it measured before, an 8.3.5528 bug"
)


def _entry(readings, eid):
    # 8.3.x adds an unlisted all-zero entry (eid 1023410688) and the lists can differ in size,
    # so match by eid, never by position (and an eid is an int: true == 1 in Python).
    if type(readings) is dict:
        readings = (readings,)
    elif type(readings) is not list:
        return None
    for r in readings:
        if type(r) is dict and is_eid(r.get("eid")) and r["eid"] == eid:
            return r
    return None


def reading(readings, eid, phases=0):
    """(activePower, timestamp or None) of one meter in /ivp/meters/readings (a list) or
    /ivp/meters/readings/<eid> (one object). The top-level activePower, never the channels:
    on some split-phase systems the third channel holds junk (8.2.4286). phases: the meter's
    phaseCount in /ivp/meters (0: unknown), for the zero-phase check."""
    r = _entry(readings, eid)
    if r is None:
        raise ValueError("the readings have no meter %s" % (eid,))
    p = watts(r.get("activePower"))
    if p is None:
        raise ValueError("meter %s has no activePower number" % (eid,))
    if p == 0 and r.get("voltage") == 0:
        # A live CT always sees the mains voltage; all zeros is the meter not measuring.
        raise Glitch(_ALL_ZERO)
    if phases > 1 and _zero_phase(r.get("channels"), phases):
        raise Glitch(_ZERO_PHASE)
    return p, stamp(r.get("timestamp"))


def _zero_phase(channels, phases):
    # One of the meter's own phases at exactly 0 V while another is live: the total is one
    # phase short (8.3.6086/6087 on a split-phase storage CT, pyenphase#481 and #499). Channels
    # beyond phaseCount are unused and may read 0.
    if type(channels) is not list:
        return False
    zero = live = False
    for c in channels[:phases]:
        v = c.get("voltage") if type(c) is dict else None
        if type(v) is int or type(v) is float:
            zero = zero or v == 0
            live = live or v > 0
    return zero and live


def net_from_readings(plan, first, second=None, phases=None):
    """Net watts (int, + import) and the reading's timestamp. first holds the readings with
    plan's first eid; second, if given, those with the second (else first is searched).
    phases: {eid: phaseCount} from /ivp/meters."""
    phases = phases or {}
    p, ts = reading(first, plan[1], phases.get(plan[1], 0))
    if plan[0] == "total-production":
        q, _ = reading(second if second is not None else first, plan[2], phases.get(plan[2], 0))
        p -= q
    return int(round(p)), ts


def net_from_production(report, polling=False):
    """/production.json (firmware without /ivp/meters): the consumption entry whose
    measurementType is net-consumption and whose activeCount > 0, field wNow. The setup
    decides from it whether there is a consumption CT (NoNetPower); once polling has begun, a
    reply that says there is none is a glitch, never a decision."""
    if type(report) is not dict:
        raise ValueError("production.json is not a JSON object")
    entries = report.get("consumption")
    if entries is None or entries == []:
        return _no_ct(polling, "production.json has no consumption data")
    if type(entries) is not list:
        raise ValueError("production.json: consumption is not a list")
    for c in entries:
        if type(c) is dict and c.get("measurementType") == NET:
            active = c.get("activeCount")
            if type(active) is not int:
                raise ValueError("production.json net-consumption has no activeCount")
            if active <= 0:
                # A metered Envoy without consumption CTs still lists the entry, with junk
                # values and activeCount 0 (7.3.130_no_consumption); 8.3.5528 sends that now
                # and then for a CT that is there (pyenphase#471).
                if polling:
                    raise Glitch(_NO_ACTIVE)
                raise NoNetPower(NO_CT + " (production.json: net-consumption has no active CT)")
            w = watts(c.get("wNow"))
            if w is None:
                raise ValueError("production.json net-consumption has no wNow number")
            return int(round(w)), stamp(c.get("readingTime"))
    return _no_ct(polling, "production.json has no net-consumption entry")


def _no_ct(polling, why):
    if polling:
        raise ValueError(why)  # a broken reply, retried as one
    raise NoNetPower(NO_CT + " (%s)" % why)
