"""The simulated Envoy: one folder of tools/fixtures/envoy served as the Envoy served it.

Every captured endpoint (the file for a path is named as the collector named it:
'/api/v1/production' -> api_v1_production) with the status, Content-Type, framing (length or
chunks) and headers recorded in the capture's *_log.json. Firmware 7 and newer get HTTPS with a
self-signed certificate and take a token the simulated cloud issued (or a test added) as a Bearer
header, or the sessionId cookie that /auth/check_jwt sets; older firmware speaks plain HTTP. A
`live` function can replace the grid figure, and `fault` injects failures. The tokens it accepts
(Authority) and their form (make_jwt) live here; the cloud issues them.
"""

import base64
import json
import os
import secrets
import ssl
import threading
import time
from collections.abc import Callable

from tools.sim.clock import SimClock
from tools.sim.server import Handler, Service, server_context

FIXTURES = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "envoy"
)
DEMO_FOLDER = "8.2.4345_with_device_data"  # firmware 8, net-consumption CT: what most users have

# What firmware 7/8 (openresty) sends for a request without a valid token. 8.3.5289 and later
# redirect to /login.html instead of /home.
UNAUTHORISED_HTML = (
    "<html><head><title>401 Authorization Required</title></head><body><center><h1>401 "
    "Authorization Required</h1></center>\n<hr><center>Redirecting to <a id='link' href=''></a>"
    "</center><script>const redirect_url = window.location.protocol + '//' + "
    "window.location.host + '%s'; document.getElementById('link').href = redirect_url; "
    "window.location.replace(redirect_url);</script></body></html>\n"
)
VALID_TOKEN_HTML = "<!DOCTYPE html><h2>Valid token.</h2>\n"
NOT_FOUND = '{"error": "404 - Not Found"}'
# Capture headers replayed as they were; framing (length, chunking, keep-alive) is rebuilt.
REPLAYED = (
    "www-authenticate",
    "pragma",
    "expires",
    "cache-control",
    "strict-transport-security",
    "x-frame-options",
    "x-content-type-options",
)
NOT_ENDPOINTS = ("README.md", "LICENSE.pyenphase", "_readme")


def endpoint_file(path: str) -> str:
    """The capture collector's file name for a request path: '/production.json?details=1' ->
    'production.json_details_1' (no leading '/'; '/', '?', '=' and '&' become '_')."""
    name = path[1:]
    for c in "/?=&":
        name = name.replace(c, "_")
    return name


def captured_endpoints(folder: str) -> frozenset[str]:
    """The response files of a capture folder (not the *_log.json metadata nor the notes)."""
    return frozenset(
        n
        for n in os.listdir(folder)
        if not n.endswith("_log.json")
        and n not in NOT_ENDPOINTS
        and os.path.isfile(os.path.join(folder, n))
    )


def wire_body(body: bytes, length: str | int) -> bytes:
    """The captured body in the form the Envoy sent: most files were re-formatted when captured,
    so when the logged Content-Length differs, try the usual forms (no final newline, compact or
    indented JSON) and keep the one of that length; else the file as it is."""
    try:
        length = int(length)
    except ValueError:
        return body
    if len(body) == length:
        return body
    forms = [body.rstrip(b"\r\n")]
    try:
        obj = json.loads(body)
    except ValueError:
        obj = None
    if obj is not None:
        for kw in ({"separators": (",", ":")}, {}, {"indent": 4}, {"indent": 2}):
            text = json.dumps(obj, ensure_ascii=False, **kw).encode()
            forms += [text, text + b"\n"]
    for form in forms:
        if len(form) == length:
            return form
    return body


def guess_type(name: str, body: bytes) -> str:
    """Content-Type for a capture without a log: what the Envoy sends for such a body."""
    if name == "info":
        return "text/xml"
    try:
        json.loads(body)
        return "application/json"
    except ValueError:
        return "text/html" if body.lstrip()[:1] == b"<" else "text/plain"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(
    serial: str, email: str, iat: float, lifetime_s: float = 365 * 86400, role: str = "owner"
) -> str:
    header = {"kid": "sim", "typ": "JWT", "alg": "ES256"}
    claims = {
        "aud": serial,
        "iss": "Entrez",
        "enphaseUser": role,
        "exp": int(iat + lifetime_s),
        "iat": int(iat),
        "jti": secrets.token_hex(16),
        "username": email,
    }
    parts = [json.dumps(header).encode(), json.dumps(claims).encode(), secrets.token_bytes(64)]
    return ".".join(b64url(p) for p in parts)


class Authority:
    """Tokens the simulated Envoys accept: those the cloud issued and those a test adds."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.valid: set[str] = set()
        self.lock = threading.Lock()

    def add(self, token: str) -> None:
        with self.lock:
            self.valid.add(token)

    def revoke_all(self) -> None:
        with self.lock:
            self.valid.clear()

    def accepts(self, token: str, serial: str) -> bool:
        with self.lock:
            if token not in self.valid:
                return False
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        return claims.get("aud") == serial and claims["exp"] > self.clock.now()


class SimBattery:
    """A home battery in self-consumption mode: it absorbs export until full and covers import
    until its reserve, up to max_w either way. Power + discharging (the Envoy's sign)."""

    def __init__(
        self,
        capacity_wh: float = 10000,
        max_w: float = 3840,
        reserve_pct: float = 20,
        soc_pct: float = 50,
    ) -> None:
        self.capacity_wh = capacity_wh
        self.max_w = max_w
        self.reserve_pct = reserve_pct
        self.wh = capacity_wh * soc_pct / 100
        self.w = 0.0
        self.t: float | None = None
        self.charged_wh = self.discharged_wh = 0.0

    @property
    def soc(self) -> float:
        return 100 * self.wh / self.capacity_wh

    def flow(self, t: float, house_net_w: float) -> float:
        """The battery's power at time t for the house's net power without it (+ import)."""
        if self.t is not None and t > self.t:
            wh = self.w * (t - self.t) / 3600
            self.wh = min(self.capacity_wh, max(0.0, self.wh - wh))
            if wh > 0:
                self.discharged_wh += wh
            else:
                self.charged_wh -= wh
        self.t = t
        w = max(-self.max_w, min(self.max_w, house_net_w))
        if w < 0 and self.wh >= self.capacity_wh - 1e-6:
            w = 0.0  # full
        if w > 0 and self.soc <= self.reserve_pct:
            w = 0.0  # at its reserve
        self.w = w
        return w


class SimEnvoy(Service):
    """One captured Envoy, served as it served its replies. fault: None, "503" (not ready),
    "401" (the token refused everywhere, as while an Envoy restarts), "html" (its home page
    where JSON was expected), "truncate", "reset", "oversize" (bodies), "all-zero" (the grid CT
    reads all zeros, an 8.3.x bug), "active-count-0" (production.json's 8.3.5528 bug).
    update_firmware() plays an Enphase push with a new certificate; refused_paths answers 401
    on optional endpoints; slow_s delays every reply; stop() refuses connections."""

    OVERSIZE = 40000  # bigger than any cap the firmware uses

    def __init__(
        self,
        folder: str = DEMO_FOLDER,
        pki: dict[str, str] | None = None,
        clock: SimClock | None = None,
        authority: Authority | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(port)
        self.folder = os.path.join(FIXTURES, folder)
        with open(os.path.join(self.folder, "info")) as f:
            info = f.read()
        self.software = info.split("<software>")[1].split("<")[0]
        self.serial = info.split("<sn>")[1].split("<")[0]
        digits = self.software.lstrip("DRM").split(".")
        self.version = tuple(int(x) for x in digits[:3])
        self.tls = self.version >= (7,)
        self.clock = clock or SimClock()
        self.authority = authority or Authority(self.clock)
        self.pki = pki or {}
        self.cert = "envoy"  # which of the PKI's Envoy certificates is served
        self.endpoints = captured_endpoints(self.folder)
        self.per_meter = True  # serve /ivp/meters/readings/<eid>
        self.require_cookie = False  # True: a bare token is refused, the cookie is needed
        self.sessions: set[str] = set()  # "sessionId=..." cookies the Envoy knows
        self._tokens: dict[str, str] = {}  # session -> the token it was opened with
        self.requests: list[tuple] = []  # (method, path, had_bearer, had_cookie)
        self.served: list[tuple] = []  # (certificate shown, method, path, had_bearer, had_cookie)
        self.missing: list[str] = []  # paths asked for that the capture does not hold (404)
        # fn(sim_time) -> (pv_w, net_w) replaces the grid figure
        self.live: Callable[[float], tuple[float, float]] | None = None
        self.battery: SimBattery | None = None  # behind the storage CT and ensemble figures
        self.frozen_at: float | None = None  # a stuck meter: live values keep this timestamp
        self.info_software: str | None = None  # /info shows this firmware (update_firmware)
        self.info_serial: str | None = None  # /info shows this serial instead (another Envoy)
        # path prefixes answered 401 (optional endpoints kept from owners)
        self.refused_paths: tuple[str, ...] = ()
        self.fault = None
        self.slow_s = 0
        self._ctx: dict[str, ssl.SSLContext] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def tls_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        if self.cert not in self._ctx:
            pem, key = self.pki[self.cert + "_pem"], self.pki[self.cert + "_key"]
            self._ctx[self.cert] = server_context(pem, key)
        return self._ctx[self.cert]

    def reboot(self) -> None:
        """Like a real Envoy reboot: sessions are forgotten."""
        self.stop()
        self.sessions.clear()

    @property
    def host(self) -> str:
        return "127.0.0.1:%d" % self.port

    # -- content -----------------------------------------------------------------------------

    def _file(self, name):
        """(body, log) of a captured endpoint file, or (None, None). Only names from the folder's
        listing are opened, so a request path never reaches another file."""
        if name not in self.endpoints:
            return None, None
        path = os.path.join(self.folder, name)
        with open(path, "rb") as f:
            body = f.read()
        log = {}
        if os.path.exists(path + "_log.json"):
            with open(path + "_log.json") as f:
                log = json.load(f)
        return body, log

    def _meters(self):
        body, _ = self._file("ivp_meters")
        try:
            meters = json.loads(body)
        except (TypeError, ValueError):
            return {}
        return (
            {m["measurementType"]: m["eid"] for m in meters if isinstance(m, dict)}
            if isinstance(meters, list)
            else {}
        )

    def _flows(self):
        # (pv, grid, battery): with a battery, live's net is the house's without it.
        t = self.clock.now()
        pv, net = self.live(t)
        b = self.battery.flow(t, net) if self.battery else 0.0
        return pv, net - b, b

    def _live_readings(self, readings):
        pv, net, b = self._flows()
        now = int(self.clock.now()) if self.frozen_at is None else self.frozen_at
        eids = self._meters()
        for r in readings:
            if r["eid"] == eids.get("storage") and self.battery:
                r["activePower"] = round(b, 3)
            elif r["eid"] == eids.get("net-consumption"):
                r["activePower"] = round(net, 3)
            elif r["eid"] == eids.get("total-consumption"):
                r["activePower"] = round(net + pv + b, 3)
            elif r["eid"] == eids.get("production"):
                r["activePower"] = round(pv, 3)
            else:
                continue
            r["timestamp"] = now
        return readings

    def _live_battery(self, obj):
        # /ivp/ensemble/power and /ivp/ensemble/secctrl as the battery stands now.
        _, _, b = self._flows()
        soc = int(self.battery.soc)
        devices = obj.get("devices:") if isinstance(obj, dict) else None
        if devices:
            for d in devices:
                d["real_power_mw"] = int(b * 1000 / len(devices))
                d["soc"] = soc
        elif isinstance(obj, dict) and "agg_soc" in obj:
            obj["agg_soc"] = obj["ENC_agg_soc"] = soc
            obj["adjusted_backup_soc"] = self.battery.reserve_pct
        return obj

    def _live_production(self, report):
        pv, net, _ = self._flows()
        now = int(self.clock.now())
        for c in report.get("consumption", []):
            c["readingTime"] = now
            c["wNow"] = round(
                net if c.get("measurementType") == "net-consumption" else net + pv, 3
            )
        for p in report.get("production", []):
            if p.get("type") == "eim":
                p["wNow"] = round(pv, 3)
                p["readingTime"] = now
        return report

    # -- requests ----------------------------------------------------------------------------

    def _authorised(self, h):
        # A real Envoy takes the Bearer token alone (pyenphase sends nothing else to an IP
        # address); the sessionId cookie from check_jwt works alone too, while its token is
        # valid. require_cookie plays firmware that wants the session.
        if not self.tls or self._has_session(h):
            return True
        return not self.require_cookie and self._bearer(h) is not None

    def _bearer(self, h):
        auth = h.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        return token if token and self.authority.accepts(token, self.serial) else None

    def _has_session(self, h):
        for c in h.headers.get("Cookie", "").split(";"):
            c = c.strip()
            if c in self.sessions and self.authority.accepts(self._tokens.get(c), self.serial):
                return True
        return False

    def _new_session(self, token):
        sid = "sessionId=" + secrets.token_hex(16)
        if len(self.sessions) < 1000:  # a client that never sends it back gets one per request
            self.sessions.add(sid)
            self._tokens[sid] = token
        return ("Set-Cookie", sid + "; Path=/; HttpOnly; Secure")

    def _unauthorised(self, h):
        target = "/login.html" if self.version >= (8, 3, 5289) else "/home"
        h.reply(401, UNAUTHORISED_HTML % target, "text/html")

    def serve(self, h: Handler) -> None:  # noqa: C901 (one branch per path, as the Envoy routes them)
        if h.command == "POST":
            h._body()
        path = h.path
        auth = h.headers.get("Authorization", "")
        q = (
            h.command,
            path,
            auth.startswith("Bearer "),
            "sessionId=" in h.headers.get("Cookie", ""),
        )
        self.requests.append(q)
        # Which certificate the connection showed: a test can tell what reached a new one.
        self.served.append((getattr(h.connection, "sim_cert", None),) + q)
        if self.slow_s:
            time.sleep(self.slow_s)
        if self.fault == "503":
            return h.reply(503, "", "text/html")
        if path == "/info" or path == "/info.xml":
            return self._send_file(h, "info", self._info)
        if path == "/auth/check_jwt":
            token = self._bearer(h)
            if not self.tls or token is None or self.fault == "401":
                return self._unauthorised(h)
            return h.reply(200, VALID_TOKEN_HTML, "text/html", [self._new_session(token)])
        if not self._authorised(h) or self.fault == "401":
            return self._unauthorised(h)  # "401": the token refused, as while an Envoy starts
        if any(path.startswith(p) for p in self.refused_paths):
            return self._unauthorised(h)  # an optional endpoint this firmware keeps from owners
        if self.fault == "html":
            return h.reply(200, "<html><body>Envoy home</body></html>", "text/html")
        name = endpoint_file(path)
        if self.fault in ("all-zero", "active-count-0") and self._bogus(h, name, path):
            return None
        if name == "ivp_meters_readings":
            return self._send_file(h, name, self._live_readings)
        if name.startswith("production.json"):
            if name not in self.endpoints and path == "/production.json?details=1":
                name = "production.json"  # older captures have only the plain report
            return self._send_file(h, name, self._live_production)
        if name in ("ivp_ensemble_power", "ivp_ensemble_secctrl") and self.battery:
            return self._send_file(h, name, self._live_battery)
        if name in self.endpoints:
            return self._send_file(h, name)
        if path.startswith("/ivp/meters/readings/") and self.per_meter:
            return self._one_meter(h, path)
        self.missing.append(path)
        return h.reply(404, NOT_FOUND)

    def _one_meter(self, h, path):
        # Not in the captures: one meter's entry of /ivp/meters/readings, by eid.
        body, _ = self._file("ivp_meters_readings")
        try:
            eid = int(path.rsplit("/", 1)[1])
            entry = [r for r in json.loads(body) if r.get("eid") == eid]
        except (TypeError, ValueError, AttributeError):
            entry = []
        if not entry:
            return h.reply(404, NOT_FOUND)
        if self.live:
            entry = self._live_readings(entry)
        return h.reply(200, json.dumps(entry[0], indent=4))

    def _bogus(self, h, name, path):
        # The firmware bugs of 2026 (pyenphase#471 and the PRs after it): the grid CT reads all
        # zeros ("all-zero"), or production.json says activeCount 0 with junk ("active-count-0").
        # True when it replied.
        if self.fault == "active-count-0" and name.startswith("production.json"):
            body, _ = self._file(name if name in self.endpoints else "production.json")
            report = json.loads(body)
            for c in report.get("consumption", []):
                c["activeCount"], c["wNow"] = 0, 0.0
            h.reply(200, json.dumps(report), chunked=self.tls)
            return True
        readings = name == "ivp_meters_readings" or path.startswith("/ivp/meters/readings/")
        if self.fault != "all-zero" or not readings:
            return False
        body, _ = self._file("ivp_meters_readings")
        entries = json.loads(body)
        grid = (self._meters().get("net-consumption"), self._meters().get("total-consumption"))
        for r in entries:
            if r.get("eid") in grid:
                for c in [r] + r.get("channels", []):
                    for k, v in c.items():
                        if k not in ("eid", "timestamp") and isinstance(v, float):
                            c[k] = 0.0
                r["timestamp"] = int(self.clock.now())
        if path.startswith("/ivp/meters/readings/"):
            eid = int(path.rsplit("/", 1)[1])
            entries = [r for r in entries if r.get("eid") == eid][:1]
            if not entries:
                h.reply(404, NOT_FOUND)
                return True
            h.reply(200, json.dumps(entries[0], indent=4))
            return True
        h.reply(200, json.dumps(entries, indent=4))
        return True

    def update_firmware(self, software: str, cert: str = "envoy2") -> None:
        """An Enphase firmware push: the Envoy comes back (sessions forgotten) with a new
        certificate, and /info shows the new version (the same serial). It keeps listening, so
        the board meets the new certificate on its next poll, not a refusal first (the
        envoy-reboot fault plays the refusals)."""
        self.swap_cert(cert)
        self.info_software = software

    def swap_cert(self, cert: str) -> None:
        """A new certificate on every connection from now on; sessions forgotten."""
        self.cert = cert
        self.sessions.clear()
        self.drop()

    def _info(self, body):
        if self.info_software:
            old = "<software>%s</software>" % self.software
            body = body.replace(
                old.encode(), ("<software>%s</software>" % self.info_software).encode()
            )
        if self.info_serial:
            old = "<sn>%s</sn>" % self.serial
            body = body.replace(old.encode(), ("<sn>%s</sn>" % self.info_serial).encode())
        return body

    def _send_file(self, h, name, live=None):
        body, log = self._file(name)
        if body is None:
            self.missing.append(h.path)
            return h.reply(404, NOT_FOUND)
        headers = {k.lower(): v for k, v in (log.get("headers") or {}).items()}
        status = log.get("code", 200)
        chunked = "chunked" in headers.get("transfer-encoding", "")
        if live == self._info:
            body = self._info(body)
            live = None
        if live and self.live and status == 200 and body.lstrip()[:1] in (b"{", b"["):
            body = json.dumps(live(json.loads(body)), indent=4).encode()
        elif "content-length" in headers:
            body = wire_body(body, headers["content-length"])
        if name.startswith("production.json") and self.tls and "content-length" not in headers:
            chunked = True  # 7.x/8.x always chunk production.json
        extra = [(k, v) for k, v in (log.get("headers") or {}).items() if k.lower() in REPLAYED]
        token = self._bearer(h) if "sessionId=" in headers.get("set-cookie", "") else None
        if token and not self._has_session(h):
            extra.append(self._new_session(token))  # 8.3.5289 opens a session for a bare token
        return h.reply(
            status,
            body,
            headers.get("content-type") or guess_type(name, body),
            extra,
            chunked=chunked,
            close=headers.get("connection") == "close",
        )
