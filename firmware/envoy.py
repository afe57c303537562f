# The local Envoy / IQ Gateway over one kept-alive connection: firmware probe, token session,
# meter discovery, then net power every poll. Parsing and quirks live in envoy_parse.py.
import binascii

from firmware import console, store
from firmware import envoy_parse as ep
from firmware.compat import NET_ERRORS
from firmware.http import Connection, HTTPError

INFO = "/info"  # XML, no auth: firmware version and serial
CHECK_JWT = "/auth/check_jwt"  # "Valid token." and a sessionId cookie
METERS = "/ivp/meters"  # which CT measures what, by eid
READINGS = "/ivp/meters/readings"  # all meters; /ivp/meters/readings/<eid> for one
PRODUCTION_JSON = "/production.json"  # fallback for firmware without /ivp/meters; chunked
PIN_FILE = "envoy_pin.json"  # {"sha256": hex} once pinned, {"https": true} once HTTPS worked
REPIN_HINT = "re-pin at the REPL: from firmware import diag; diag.repin()"
_ACCEPT = ("Accept", "application/json")
_HEX = "0123456789abcdef"

NoNetPower = ep.NoNetPower


class EnvoyError(Exception):
    """A transient problem: retry later."""


class AuthError(EnvoyError):
    """The Envoy refused the token: a 401/403, or a redirect to its login page."""


class PinMismatch(EnvoyError):
    """The Envoy showed another certificate than the pinned one; nothing was sent."""


class Downgrade(PinMismatch):
    """Only plain HTTP answers where an Envoy was pinned or spoke HTTPS: an impostor or a
    downgrade. Refused before anything secret is sent, like a changed certificate."""


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


class Envoy:
    def __init__(self, host, port=None, pin="tofu", timeout_s=10, pin_file=PIN_FILE):
        """pin: "tofu", "off" or a SHA-256 in hex. pin_file: where the tofu pin and the fact that
        HTTPS worked are kept; None keeps them in RAM only (the host tools)."""
        self.host = host
        self.port = port
        self.pin = pin
        self.pin_file = pin_file
        self.timeout = timeout_s
        self.software = self.version = self.serial = None
        self.https = True  # the scheme of self.conn
        self.plan = None  # see envoy_parse.plan_from_meters, or ("production",)
        self.per_meter = False  # /ivp/meters/readings/<eid> works
        self.session = None  # "sessionId=..." from check_jwt
        self.conn = None
        self._past_handshakes = 0  # of connections already replaced
        self._polls = None  # prepared request bytes, one per request of a poll
        self._headers = (_ACCEPT,)
        # What this Envoy is known to be: (pinned sha256 hex or None, HTTPS seen). It outlives
        # reset(); _unsaved: learnt this run but not on flash, so RAM is all that holds it.
        self._known = (None, False)
        self._unsaved = False

    # -- connection and certificate ----------------------------------------------------------

    def _trust(self):
        if self.pin not in ("tofu", "off"):
            return self.pin.replace(":", "").lower(), True
        if self.pin_file is None or self._unsaved:
            return self._known
        saved = store.load(self.pin_file)
        known = pin_record(saved)
        if known is None and saved is not None:
            console.problem("envoy: %s is not a pin record; ignoring it" % self.pin_file)
        # No file: never pinned, or diag.repin() removed it.
        self._known = known or (None, False)
        return self._known

    def pinned(self):
        """The expected certificate SHA-256 (hex), or None before the first use."""
        return self._trust()[0]

    def _learn(self, sha):
        # HTTPS worked (sha: the certificate, first use under tofu): keep it, on flash if we can.
        known = (sha or self._known[0], True)
        if known == self._known:
            return
        self._known = known
        if self.pin_file is None:
            return
        record = {"https": True}
        if known[0]:
            record["sha256"] = known[0]
        if store.save(self.pin_file, record):
            self._unsaved = False
            if sha:
                console.log("envoy: certificate pinned on first use sha256=%s" % sha)
        else:
            self._unsaved = True
            console.problem(
                "envoy: %s could not be saved; it holds until the next reboot"
                % (
                    "the certificate pinned on first use (sha256=%s)" % sha
                    if sha
                    else "that the Envoy speaks HTTPS"
                )
            )

    def forget_pin(self):
        """diag.repin(): forget the certificate and that HTTPS worked, on flash and in RAM."""
        if self.pin_file is not None:
            store.remove(self.pin_file)
        self._known = (None, False)
        self._unsaved = False
        self.reset()

    def _check_peer(self, digest):
        if digest is None:
            raise EnvoyError(
                "this runtime cannot show the Envoy's certificate; set envoy.pin to off"
            )
        seen = str(binascii.hexlify(digest), "ascii")
        want = self._trust()[0]
        if want is None:
            self._learn(seen)
            return
        if seen != want:
            raise PinMismatch(
                "the Envoy's certificate changed (sha256 %s..., pinned %s...): nothing was sent. "
                "If you replaced or reset the Envoy, %s" % (seen[:16], want[:16], self._how())
            )

    def _how(self):
        if self.pin in ("tofu", "off"):
            return REPIN_HINT
        return "update envoy.pin (python -m tools.envoy_pin)"

    def _connection(self, https):
        port = self.port or (443 if https else 80)
        check = self._check_peer if https and self.pin != "off" else None
        self.https = https
        if not https:
            self._forget_session()  # nothing secret ever goes over plain HTTP
        return Connection(self.host, port, tls=https, check_peer=check, timeout_s=self.timeout)

    def close(self):
        if self.conn is not None:
            self.conn.close()

    def _retire(self):
        if self.conn is not None:
            self.conn.close()
            self._past_handshakes += self.conn.handshakes
            self.conn = None

    def _forget_session(self):
        self.session = None
        self._headers = (_ACCEPT,)
        self._polls = None

    def reset(self):
        """Forget the session, the token and the meters: the next connect starts from /info.
        What is known of the certificate and HTTPS stays."""
        self._retire()
        self.version = None
        self.plan = None
        self._forget_session()

    def handshakes(self):
        """TLS handshakes so far, all connections included."""
        return self._past_handshakes + (self.conn.handshakes if self.conn else 0)

    # -- requests ----------------------------------------------------------------------------

    def _get(self, what, head=None):
        r = self.conn.send(head or self.conn.head("GET", what, self._headers))
        s = r.status
        if s == 200:
            return r
        if s in (401, 403):
            raise AuthError("the Envoy answered %d to %s" % (s, what))
        if 300 <= s < 400:
            # Firmware 7/8 redirects to /home, and 8.3.5289+ to /login.html, when not authorised.
            where = ep.printable(r.location or "?")
            if "home" in where or "login" in where:
                raise AuthError("the Envoy sent %s to its login page" % what)
            raise EnvoyError("the Envoy redirected %s to %s" % (what, where))
        if s == 503:
            raise EnvoyError("the Envoy is not ready (503), as after a reboot")
        raise EnvoyError("the Envoy answered %d to %s" % (s, what))

    def _json(self, r, what):
        if r.looks_like_html():
            raise EnvoyError("the Envoy sent an HTML page where JSON was expected (%s)" % what)
        try:
            return r.json()
        except ValueError:
            raise EnvoyError("the Envoy's reply to %s is not valid JSON" % what)

    # -- setup -------------------------------------------------------------------------------

    def probe(self):
        """Read /info (no auth): firmware version and serial. HTTPS first; firmware before 7
        only speaks plain HTTP. Plain HTTP is tried only while this Envoy has never been
        pinned nor spoken HTTPS: after that, only an impostor or a downgrade would use it."""
        failure = None
        for https in (True, False):
            self._retire()
            if not https and self._trust()[1]:
                self._refuse_plain(failure)
            self.conn = self._connection(https)
            try:
                r = self.conn.send(self.conn.head("GET", INFO, ()))
                if r.status != 200:
                    raise EnvoyError("the Envoy answered %d to %s" % (r.status, INFO))
                software, version, serial = self._parsed(ep.parse_info, INFO, r.body)
            except PinMismatch:
                raise
            except NET_ERRORS + (HTTPError, EnvoyError) as e:
                failure = failure or e
                continue
            if not https and ep.needs_token(version):
                break  # firmware 7+ over plain HTTP: something in between; trust only HTTPS
            self.software, self.version, self.serial = software, version, serial
            if https and not self._trust()[1]:
                self._learn(None)
            return
        self.close()
        raise failure or EnvoyError("the Envoy at %s does not answer" % self.host)

    def _refuse_plain(self, failure):
        # HTTPS failed where it worked before. Ask /info over plain HTTP (nothing secret is
        # sent) to tell an Envoy that is down from something claiming old firmware there.
        conn = self._connection(False)
        try:
            r = conn.send(conn.head("GET", INFO, ()))
            software, version, _ = ep.parse_info(r.body) if r.status == 200 else (0, (7,), 0)
        except Exception:
            version = (7,)
        finally:
            conn.close()
        if ep.needs_token(version):
            raise failure or EnvoyError("the Envoy at %s does not answer" % self.host)
        raise Downgrade(
            "plain HTTP at %s claims old firmware %s, but this Envoy %s: refused, nothing was "
            "sent. If you replaced it with an older Envoy, %s"
            % (
                self.host,
                software,
                "is pinned" if self._trust()[0] else "has spoken HTTPS",
                self._how(),
            )
        )

    def needs_token(self):
        return ep.needs_token(self.version)

    def login(self, token):
        """check_jwt: the Envoy checks the token and opens a session (sessionId cookie).
        Both the Bearer token and the cookie go on every later request: some 7.x firmware
        wants the cookie, pyenphase sends the Bearer header. Never over plain HTTP."""
        self._forget_session()
        if not self.https or self.conn is None or self.version is None:
            raise Downgrade("refusing to send the token: the Envoy was not probed over HTTPS")
        bearer = ("Authorization", "Bearer " + token)
        r = self.conn.send(self.conn.head("GET", CHECK_JWT, (bearer,)))
        if r.status != 200 or b"Valid token" not in bytes(r.body):
            raise AuthError(
                "the Envoy did not accept the token (check_jwt answered %d)" % r.status
            )
        for c in r.cookies:
            if c.startswith("sessionId="):
                self.session = c
        headers = [bearer, _ACCEPT]
        if self.session:
            headers.append(("Cookie", self.session))
        self._headers = headers
        if self.plan is not None:
            self._prepare()  # the same meters, with the new session's cookie

    def discover(self):
        """How to get net power: /ivp/meters at start and after an error streak.
        Raises NoNetPower when the Envoy has no consumption CT."""
        self.per_meter = False
        r = self.conn.send(self.conn.head("GET", METERS, self._headers))
        meters = None
        if r.status == 200 and not r.looks_like_html():
            try:
                meters = r.json()
            except ValueError:
                meters = None
        elif r.status in (401, 403) and self.needs_token():
            raise AuthError("the Envoy answered %d to %s" % (r.status, METERS))
        try:
            self.plan = ep.plan_from_meters(meters)
        except ep.BadReply as e:
            raise EnvoyError("unexpected reply to %s: %s" % (METERS, e))
        except ValueError:
            # No usable /ivp/meters (old firmware: 404, or 401 asking for digest auth).
            self.plan = ("production",)
            r = self._get(PRODUCTION_JSON)
            if r.looks_like_html():
                raise NoNetPower(ep.NO_CT + " (production.json is an HTML page on this firmware)")
            self._parsed(ep.net_from_production, PRODUCTION_JSON, self._json(r, PRODUCTION_JSON))
        else:
            self._try_per_meter()
        self._prepare()
        return self.plan

    def _try_per_meter(self):
        # /ivp/meters/readings/<eid> is a few hundred bytes instead of up to 18 KB for all meters.
        eid = self.plan[1]
        r = self.conn.send(self.conn.head("GET", "%s/%d" % (READINGS, eid), self._headers))
        if r.status == 200 and not r.looks_like_html():
            try:
                one = r.json()
                ep.reading(one, eid)
            except ValueError:
                return
            self.per_meter = type(one) is dict

    def _prepare(self):
        if self.plan[0] == "production":
            paths = [PRODUCTION_JSON]
        elif self.per_meter:
            paths = ["%s/%d" % (READINGS, eid) for eid in ep.eids(self.plan)]
        else:
            paths = [READINGS]
        self._polls = [(p, self.conn.head("GET", p, self._headers)) for p in paths]

    def describe(self):
        if self.plan is None:
            return "unknown"
        if self.plan[0] == "production":
            return "production.json net-consumption"
        how = "per-meter" if self.per_meter else "all-meter"
        if self.plan[0] == "net":
            return "net-consumption CT eid %d (%s readings)" % (self.plan[1], how)
        return "total-consumption CT eid %d minus production eid %d (%s readings)" % (
            self.plan[1],
            self.plan[2],
            how,
        )

    def ready(self):
        return self._polls is not None and self.conn is not None

    # -- the poll ----------------------------------------------------------------------------

    def read(self):
        """One reading: (net watts, + import; the Envoy's timestamp or None)."""
        polls = self._polls
        if self.per_meter:
            p, stamp = self._reading(polls[0], self.plan[1])
            if self.plan[0] == "total-production":
                p -= self._reading(polls[1], self.plan[2])[0]
            return int(round(p)), stamp
        path, head = polls[0]
        first = self._json(self._get(path, head), path)
        if self.plan[0] == "production":
            return self._parsed(ep.net_from_production, path, first)
        second = None
        if len(polls) > 1:
            path, head = polls[1]
            second = self._json(self._get(path, head), path)
        return self._parsed(ep.net_from_readings, path, self.plan, first, second)

    def _reading(self, poll, eid):
        path, head = poll
        r = self._get(path, head)
        fast = ep.scan_reading(r.raw, r.length, eid)
        if fast is not None:
            return fast
        return self._parsed(ep.reading, path, self._json(r, path), eid)

    def _parsed(self, parse, what, *args):
        # The parsers raise ValueError on junk; here it becomes a transient EnvoyError.
        try:
            return parse(*args)
        except ValueError as e:
            raise EnvoyError("unexpected reply to %s: %s" % (what, e))
