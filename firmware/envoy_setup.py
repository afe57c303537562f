# Setting up a session with the Envoy: the probe (/info), the certificate pin and the fact that
# HTTPS worked, the token (check_jwt), and the meters (/ivp/meters). The functions work on an
# envoy.Envoy; they are loaded to connect and unloaded once the polls run, so that their code
# costs no heap between reconnections.
import binascii

from firmware import console, store
from firmware import envoy_parse as ep
from firmware.compat import NET_ERRORS, const, unload
from firmware.envoy_parse import (
    CHECK_JWT,
    INFO,
    METERS,
    PRODUCTION_JSON,
    READINGS,
    AuthError,
    Downgrade,
    EnvoyError,
    NoNetPower,
    PinMismatch,
)
from firmware.http import HTTPError

_REPIN_HINT = const("re-pin: Home Assistant's Re-pin button, or diag.repin() at the REPL")
_HEX = const("0123456789abcdef")
_ACCEPT = ("Accept", "application/json")


def parse_info(body, n=None):
    """/info (XML, no auth) -> (software "D8.2.4345", version (8, 2, 4345), serial). body: the
    reply's bytes (its first n); searched as bytes: /info is 2 KB, its fields a few bytes."""
    if type(body) is str:
        body = body.encode()
    n = len(body) if n is None else n
    software = _xml_field(body, b"software", n)
    if not software:
        raise ValueError("/info has no <software> field: is this an Envoy?")
    software = printable(software)
    version = version_tuple(software)
    if not version:
        raise ValueError("/info's software %r has no version number" % software)
    return software, version, printable(_xml_field(body, b"sn", n) or "") or None


def printable(text):
    # Both go to the console: at most 40 characters, no control codes (an impostor's too).
    if type(text) is not str:
        text = "".join(chr(b) for b in text[:40])
    return "".join(c if " " <= c <= "~" else "?" for c in text[:40])


def _xml_field(body, tag, n):
    # The text of <tag>...</tag> as bytes (at most 64), or None.
    i = body.find(b"<" + tag + b">", 0, n)
    if i < 0:
        return None
    i += len(tag) + 2
    j = body.find(b"<", i, n)
    return bytes(body[i : min(j, i + 64)]).strip() if j > i else None


def version_tuple(software):
    # "D8.2.4345", "R3.9.36", "M4.2.33": a release letter, then dotted numbers.
    s = software.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    out = []
    for part in s.split(".")[:4]:
        digits = ""
        for c in part[:9]:
            if c not in "0123456789":
                break
            digits += c
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


def plan_from_meters(meters):
    """/ivp/meters -> how to compute net power:
    ("net", eid): the net-consumption CT measures the grid;
    ("total-production", total_eid, production_eid): only a total-consumption CT, so
    net = total - production (pyenphase fixture 8.3.5433_tot_is_net_cons).
    Raises NoNetPower; ValueError when the reply is not a meter list (old firmware), BadReply
    when it is a list holding junk."""
    if type(meters) is not list:
        raise ValueError("/ivp/meters is not a list of meters")
    if not meters:
        raise NoNetPower(ep.NO_CT + " (the Envoy lists no meters: it is not a metered model)")
    enabled = {}
    disabled = []
    for m in meters:
        if type(m) is not dict:
            raise ep.BadReply("it holds something that is not a meter")
        kind = m.get("measurementType")
        state = m.get("state")
        if type(kind) is not str or type(state) is not str:
            raise ep.BadReply("a meter without a measurementType or state")
        if not ep.is_eid(m.get("eid")):
            raise ep.BadReply("meter %s has no integer eid" % kind[:24])
        if state == "enabled":
            enabled[kind] = m["eid"]
        else:
            disabled.append(kind)
    if ep.NET in enabled:
        return ("net", enabled[ep.NET])
    if ep.TOTAL in enabled and ep.PRODUCTION in enabled:
        return ("total-production", enabled[ep.TOTAL], enabled[ep.PRODUCTION])
    if ep.NET in disabled or ep.TOTAL in disabled:
        raise NoNetPower(ep.NO_CT + " (its consumption CT is disabled in the Envoy's settings)")
    raise NoNetPower(ep.NO_CT)


def pin_record(obj):
    """The content of envoy_pin.json -> (sha256 hex or None, HTTPS seen), or None if it is not
    a pin record."""
    if type(obj) is not dict:
        return None
    sha = obj.get("sha256")
    https = obj.get("https", sha is not None)
    if sha is not None and (type(sha) is not str or len(sha) != 64 or sha.strip(_HEX)):
        return None
    return (sha, https or sha is not None) if type(https) is bool else None


def pinned_on(obj):
    """The Envoy (serial, firmware) that envoy_pin.json says the pin was taken on, or None
    (older records, or fields that are not short printable text)."""
    if type(obj) is not dict:
        return None
    serial, software = obj.get("serial"), obj.get("software")
    for v in (serial, software):
        if type(v) is not str or not 0 < len(v) <= 40 or printable(v) != v:
            return None
    return serial, software


def _trust(e):
    if e.pin not in ("tofu", "off"):
        return e.pin.replace(":", "").lower(), True
    if e.pin_file is None or e._unsaved:
        return e._known
    saved = store.load(e.pin_file)
    known = pin_record(saved)
    if known is None and saved is not None:
        console.problem("envoy: %s is not a pin record; ignoring it" % e.pin_file)
    # No file: never pinned, or diag.repin() removed it.
    e._known = known or (None, False)
    e._pinned_on = pinned_on(saved) if known else None
    return e._known


def pinned(e):
    """The expected certificate SHA-256 (hex), or None before the first use."""
    return _trust(e)[0]


def _learn(e, sha, on=None):
    # HTTPS worked (sha: the certificate, first use under tofu or a re-pin; on: the Envoy's
    # (serial, firmware) it was seen on): keep it, on flash if we can. Written only on change.
    known = (sha or e._known[0], True)
    on = on or e._pinned_on
    if known == e._known and on == e._pinned_on:
        return
    first = sha is not None and sha != e._known[0]
    e._known, e._pinned_on = known, on
    if e.pin_file is None:
        return
    record = {"https": True}
    if known[0]:
        record["sha256"] = known[0]
        if on:
            record["serial"], record["software"] = on
    if store.save(e.pin_file, record):
        e._unsaved = False
        if first and e._suspect is None:
            console.log("envoy: certificate pinned on first use sha256=%s" % sha)
    elif not (e._unsaved and sha is None):  # the firmware it holds for: said once with it
        e._unsaved = True
        console.problem(
            "envoy: %s could not be saved; it holds until the next reboot"
            % (
                "the certificate pinned on first use (sha256=%s)" % sha
                if sha
                else "that the Envoy speaks HTTPS"
            )
        )


def forget_pin(e):
    """diag.repin(): forget the certificate and that HTTPS worked, on flash and in RAM."""
    if e.pin_file is not None:
        store.remove(e.pin_file)
    e._known = (None, False)
    e._pinned_on = None
    e._unsaved = False
    e.reset()


def _check_peer(e, digest):
    if digest is None:
        raise EnvoyError("this runtime cannot show the Envoy's certificate; set envoy.pin to off")
    seen = str(binascii.hexlify(digest), "ascii")
    want = _trust(e)[0]
    e._suspect = None
    if want is None:
        _learn(e, seen)
        return
    if seen == want:
        return
    if e.pin == "tofu" and e._pinned_on:
        # Envoys make a new certificate with some firmware updates. Only /info (no secret) may
        # go over this connection: probe() then re-pins or refuses (envoy_repin.py).
        e._suspect = seen
        if e._probing:
            return
        err = PinMismatch(
            "the Envoy's certificate changed (sha256 %s..., pinned %s...): nothing was sent; "
            "asking its /info whether a firmware update did it" % (seen[:16], want[:16])
        )
        err.recheck = True
        raise err
    raise PinMismatch(
        "the Envoy's certificate changed (sha256 %s..., pinned %s...): nothing was sent. "
        "If you replaced or reset the Envoy, %s" % (seen[:16], want[:16], _how(e))
    )


def _how(e):
    if e.pin in ("tofu", "off"):
        return _REPIN_HINT
    return "update envoy.pin (python -m tools.envoy_pin)"


def probe(e):
    """Read /info (no auth): firmware version and serial. HTTPS first; firmware before 7
    only speaks plain HTTP. Plain HTTP is tried only while this Envoy has never been
    pinned nor spoken HTTPS: after that, only an impostor or a downgrade would use it."""
    failure = None
    for https in (True, False):
        e._retire()
        if not https and _trust(e)[1]:
            _refuse_plain(e, failure)
        e.conn = e._connection(https)
        e._probing = https
        try:
            r = e.conn.send(e.conn.head("GET", INFO, ()))
            if r.status != 200:
                raise EnvoyError("the Envoy answered %d to %s" % (r.status, INFO))
            software, version, serial = e._parsed(parse_info, INFO, r.raw, r.length)
        except PinMismatch:
            raise
        except NET_ERRORS + (HTTPError, EnvoyError) as err:
            failure = failure or err
            continue
        finally:
            e._probing = False
        if e._suspect is not None:  # a new certificate: its judge, loaded only then
            from firmware import envoy_repin

            try:
                newer = version > version_tuple(e._pinned_on[1])
                envoy_repin.judge(e, serial, software, newer, _learn, _how(e))
            finally:
                unload("firmware.envoy_repin")
        if not https and ep.needs_token(version):
            break  # firmware 7+ over plain HTTP: something in between; trust only HTTPS
        e.software, e.version, e.serial = software, version, serial
        if https and e.pin == "tofu" and serial:
            _learn(e, None, (serial, software))  # the firmware the pin holds for
        elif https and not _trust(e)[1]:
            _learn(e, None)
        return
    e.close()
    raise failure or EnvoyError("the Envoy at %s does not answer" % e.host)


def _refuse_plain(e, failure):
    # HTTPS failed where it worked before. Ask /info over plain HTTP (nothing secret is
    # sent) to tell an Envoy that is down from something claiming old firmware there.
    conn = e._connection(False)
    try:
        r = conn.send(conn.head("GET", INFO, ()))
        software, version, _ = parse_info(r.raw, r.length) if r.status == 200 else (0, (7,), 0)
    except Exception:
        version = (7,)
    finally:
        conn.close()
    if ep.needs_token(version):
        raise failure or EnvoyError("the Envoy at %s does not answer" % e.host)
    raise Downgrade(
        "plain HTTP at %s claims old firmware %s, but this Envoy %s: refused, nothing was "
        "sent. If you replaced it with an older Envoy, %s"
        % (
            e.host,
            software,
            "is pinned" if _trust(e)[0] else "has spoken HTTPS",
            _how(e),
        )
    )


def login(e, token):
    """check_jwt: the Envoy checks the token and opens a session (sessionId cookie).
    Both the Bearer token and the cookie go on every later request: some 7.x firmware
    wants the cookie, pyenphase sends the Bearer header. Never over plain HTTP."""
    e._forget_session()
    if not e.https or e.conn is None or e.version is None or e._suspect is not None:
        raise Downgrade("refusing to send the token: the Envoy was not probed over HTTPS")
    bearer = ("Authorization", "Bearer " + token)
    r = e.conn.send(e.conn.head("GET", CHECK_JWT, (bearer,)))
    if r.status != 200 or b"Valid token" not in bytes(r.body):
        raise AuthError("the Envoy did not accept the token (check_jwt answered %d)" % r.status)
    for c in r.cookies:
        if c.startswith("sessionId="):
            e.session = c
    headers = [bearer, _ACCEPT]
    if e.session:
        headers.append(("Cookie", e.session))
    e._headers = headers
    if e.plan is not None:
        _prepare(e)  # the same meters, with the new session's cookie


def discover(e):
    """How to get net power: /ivp/meters at start and after an error streak.
    Raises NoNetPower when the Envoy has no consumption CT."""
    e.per_meter = False
    e.storage = e.battery = e.battery_w = None
    r = e.conn.send(e.conn.head("GET", METERS, e._headers))
    meters = None
    if r.status == 200 and not r.looks_like_html():
        try:
            meters = r.json()
        except ValueError:
            meters = None
    elif r.status in (401, 403) and e.needs_token():
        raise AuthError("the Envoy answered %d to %s" % (r.status, METERS))
    try:
        e.plan = plan_from_meters(meters)
    except ep.BadReply as err:
        raise EnvoyError("unexpected reply to %s: %s" % (METERS, err))
    except ValueError:
        # No usable /ivp/meters (old firmware: 404, or 401 asking for digest auth).
        e.plan = ("production",)
        r = e._get(PRODUCTION_JSON)
        if r.looks_like_html():
            raise NoNetPower(ep.NO_CT + " (production.json is an HTML page on this firmware)")
        from firmware.envoy_json import net_from_production

        e._parsed(net_from_production, PRODUCTION_JSON, e._json(r, PRODUCTION_JSON))
    else:
        # A storage CT is read with the grid's once ensemble.look() has found the battery, after
        # the setup code is gone: nothing about batteries adds to a connection's peak.
        e.storage = storage_eid(meters)
        e.phases = phase_counts(meters, ep.eids(e.plan) + (e.storage,))
        meters = r = None
        _try_per_meter(e)
    _prepare(e)
    return e.plan


def phase_counts(meters, eids):
    """{eid: phaseCount} of these meters in a checked /ivp/meters list (1 to 3; others left
    out, which turns the zero-phase check off for them)."""
    out = {}
    for m in meters:
        n = m.get("phaseCount")
        if m["eid"] in eids and type(n) is int and 1 <= n <= 3:
            out[m["eid"]] = n
    return out


def storage_eid(meters):
    """The enabled storage CT's eid in /ivp/meters (a checked meter list), or None."""
    for m in meters:
        if m["measurementType"] == "storage" and m["state"] == "enabled":
            return m["eid"]
    return None


def _try_per_meter(e):
    # /ivp/meters/readings/<eid> is a few hundred bytes instead of up to 18 KB for all meters.
    eid = e.plan[1]
    r = e.conn.send(e.conn.head("GET", "%s/%d" % (READINGS, eid), e._headers))
    if r.status == 200 and not r.looks_like_html():
        from firmware.envoy_json import reading

        try:
            one = r.json()
            reading(one, eid, e.phases.get(eid, 0))
        except ep.Glitch:
            pass  # the endpoint works; its data is junk this time
        except ValueError:
            return
        e.per_meter = type(one) is dict


def _prepare(e):
    if e.plan[0] == "production":
        paths = [PRODUCTION_JSON]
    elif e.per_meter:
        paths = ["%s/%d" % (READINGS, eid) for eid in ep.eids(e.plan)]
    else:
        paths = [READINGS]
    if e.storage == 0:
        paths.append("/ivp/ensemble/power")
    elif e.storage and e.per_meter:
        paths.append("%s/%d" % (READINGS, e.storage))
    e._polls = [(p, e.conn.head("GET", p, e._headers)) for p in paths]


def describe(e):
    if e.plan is None:
        return "unknown"
    if e.plan[0] == "production":
        return "production.json net-consumption"
    how = "per-meter" if e.per_meter else "all-meter"
    if e.plan[0] == "net":
        return "net-consumption CT eid %d (%s readings)" % (e.plan[1], how)
    return "total-consumption CT eid %d minus production eid %d (%s readings)" % (
        e.plan[1],
        e.plan[2],
        how,
    )
