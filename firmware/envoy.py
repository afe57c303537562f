# The local Envoy / IQ Gateway over one kept-alive connection: firmware probe, token session,
# meter discovery, then net power every poll. The setup (probe, pin, token, meters) lives in
# envoy_setup.py, loaded only to connect; parsing and quirks live in envoy_parse.py.
import sys

from firmware import envoy_parse as ep
from firmware.compat import const, unload
from firmware.envoy_parse import AuthError, EnvoyError
from firmware.http import Connection, spare_parts

PIN_FILE = "envoy_pin.json"  # {"sha256": hex} once pinned, {"https": true} once HTTPS worked
_ACCEPT = ("Accept", "application/json")
_SETUP = "firmware.envoy_setup"
_BODY_START = const(3072)


class Envoy:
    def __init__(self, host, port=None, pin="tofu", timeout_s=10, pin_file=PIN_FILE, spare=None):
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
        self.phases = {}  # eid -> phaseCount of the meters read (/ivp/meters)
        self.per_meter = False  # /ivp/meters/readings/<eid> works
        # Home batteries (ensemble.look): a description, "" for none, None before the look
        self.battery = None
        self.storage = None  # the battery's power: the storage CT's eid, 0: ensemble.POWER
        self.battery_w = None  # with the last reading: W, + discharging (None: not read)
        self.session = None  # "sessionId=..." from check_jwt
        self.conn = None
        # The buffers and TLS context of the last connection, for the next (http.spare_parts).
        self._spent = spare or spare_parts(_BODY_START)
        self._past_handshakes = 0  # of connections already replaced
        self._polls = None  # prepared request bytes, one per request of a poll
        self._headers = (_ACCEPT,)
        # What this Envoy is known to be: (pinned sha256 hex or None, HTTPS seen). It outlives
        # reset(); _unsaved: learnt this run but not on flash, so RAM is all that holds it.
        self._known = (None, False)
        self._pinned_on = None  # (serial, firmware) the pin was taken on (envoy_setup)
        self._unsaved = False
        self._probing = False  # the probe's /info: a new certificate may be judged after it
        self._suspect = None  # the SHA-256 of a new certificate not judged yet
        self.notice = None  # the last event worth telling (a re-pin), for the console and MQTT

    # -- connection and certificate ----------------------------------------------------------

    def _connection(self, https):
        port = self.port or (443 if https else 80)
        check = self._check_peer if https and self.pin != "off" else None
        self.https = https
        if not https:
            self._forget_session()  # nothing secret ever goes over plain HTTP
        conn = Connection(self.host, port, tls=https, check_peer=check, timeout_s=self.timeout)
        if self._spent is not None:
            conn.reuse(self._spent if https else self._spent[:3] + (None, None))
            self._spent = None
        return conn

    def close(self):
        if self.conn is not None:
            self.conn.close()

    def _retire(self):
        if self.conn is not None:
            self.conn.close()
            self._past_handshakes += self.conn.handshakes
            self._spent = self.conn.spare()  # for the next connection
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
            where = _setup().printable(r.location or "?")
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

    # These load envoy_setup.py; done() unloads it once the session is up.

    def probe(self):
        """Read /info (no auth): firmware version and serial; HTTPS first, plain HTTP only while
        this Envoy has never been pinned nor spoken HTTPS."""
        return _setup().probe(self)

    def login(self, token):
        """check_jwt: the Envoy checks the token and opens a session. Never over plain HTTP."""
        return _setup().login(self, token)

    def discover(self):
        """How to get net power (/ivp/meters). Raises NoNetPower without a consumption CT."""
        return _setup().discover(self)

    def describe(self):
        return _setup().describe(self)

    def pinned(self):
        """The expected certificate SHA-256 (hex), or None before the first use."""
        return _setup().pinned(self)

    def forget_pin(self):
        """diag.repin(): forget the certificate and that HTTPS worked, on flash and in RAM."""
        return _setup().forget_pin(self)

    def _check_peer(self, digest):
        # The common case, a reconnection to the certificate already known, needs no setup code
        # (loading it would cost 6 KB of heap in the middle of a run).
        want = self._known[0] if self.pin in ("tofu", "off") else self.pin
        if digest is not None and want is not None:
            from binascii import hexlify

            if str(hexlify(digest), "ascii") == want.replace(":", "").lower():
                return
        _setup()._check_peer(self, digest)

    def done(self):
        """The session is set up: its code can go until the next one (and the JSON readers,
        when the scan reads the polls)."""
        if _SETUP in sys.modules:
            unload(_SETUP)
        if self.per_meter:
            unload("firmware.envoy_json")

    def needs_token(self):
        return ep.needs_token(self.version)

    def ready(self):
        return self._polls is not None and self.conn is not None

    # -- the poll ----------------------------------------------------------------------------

    def read(self):
        """One reading: (net watts, + import; the Envoy's timestamp or None). Once
        ensemble.look() has found a battery, battery_w is read with it."""
        polls = self._polls
        first = None
        if self.per_meter:
            p, stamp = self._reading(polls[0], self.plan[1])
            if self.plan[0] == "total-production":
                p -= self._reading(polls[1], self.plan[2])[0]
            net = int(round(p)), stamp
        else:
            path, head = polls[0]
            first = self._json(self._get(path, head), path)
            from firmware import envoy_json as ej

            if self.plan[0] == "production":
                net = self._parsed(ej.net_from_production, path, first, True)
                first = None
            else:
                second = None
                if self.plan[0] == "total-production" and len(polls) > 1:
                    path, head = polls[1]
                    second = self._json(self._get(path, head), path)
                net = self._parsed(
                    ej.net_from_readings, path, self.plan, first, second, self.phases
                )
        if self.battery and self.storage is not None:
            from firmware.battery import read_power

            read_power(self, polls[-1], first)
        return net

    def _reading(self, poll, eid):
        path, head = poll
        r = self._get(path, head)
        phases = self.phases.get(eid, 0)
        fast = ep.scan_reading(r.raw, r.length, eid, phases)
        if fast is not None:
            return fast
        from firmware import envoy_json

        return self._parsed(envoy_json.reading, path, self._json(r, path), eid, phases)

    def _parsed(self, parse, what, *args):
        # The parsers raise ValueError on junk; here it becomes a transient EnvoyError. A
        # Glitch (known junk from the firmware) goes on: it is no reading, not an error.
        try:
            return parse(*args)
        except ep.Glitch:
            raise
        except ValueError as e:
            raise EnvoyError("unexpected reply to %s: %s" % (what, e))


def _setup():
    from firmware import envoy_setup

    return envoy_setup
