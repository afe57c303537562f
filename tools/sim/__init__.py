"""The simulated Envoy and Enlighten/Entrez: one implementation for the tests, the demo, the fault
tests and `python -m tools.sim`. CPython, real TLS on 127.0.0.1, HTTP/1.1 keep-alive.

SimEnvoy serves one folder of tools/fixtures/envoy as the Envoy served it: every captured
endpoint (the file for a path is named as the collector named it: '/api/v1/production' ->
api_v1_production), with the status, Content-Type, framing (length or chunks) and headers
recorded in the capture's *_log.json. Firmware 7 and newer get HTTPS with a self-signed
certificate and take a token the simulated cloud issued (or a test added) as a Bearer header, or
the sessionId cookie that /auth/check_jwt sets; older firmware speaks plain HTTP. A `live`
function can replace the grid figure, and `fault` injects failures.

SimCloud is Enlighten's login.json and Entrez's /tokens on one HTTPS server whose certificate a
test CA signs. It checks the exact form fields and JSON body, issues JWTs the SimEnvoy accepts,
and plays each failure.

    python -m tools.sim [--folder NAME]   # run both on 127.0.0.1 until Ctrl-C (make sim)
"""

import argparse
import base64
import json
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from tools.sim import certs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tools", "fixtures", "envoy")
DEMO_FOLDER = "8.2.4345_with_device_data"  # firmware 8, net-consumption CT: what most users have
# Short delays for tests: seconds instead of the field defaults' minutes.
TEST_CONTROL = {
    "poll_s": 1,
    "start_delay_s": 5,
    "stop_delay_s": 5,
    "min_on_s": 10,
    "min_off_s": 10,
    "stale_s": 10,
}

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
ENLIGHTEN_LOGIN_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Enphase Energy | Login</title></head><body>"
    "<form action='/login' method='post'><input name='user[email]'></form></body></html>\n"
)


ENTREZ_LOGIN_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Entrez</title></head><body><form action='/login' "
    "method='post'><input name='username'><input name='password' type='password'></form>"
    "</body></html>\n"
)
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


def endpoint_file(path):
    """The capture collector's file name for a request path: '/production.json?details=1' ->
    'production.json_details_1' (no leading '/'; '/', '?', '=' and '&' become '_')."""
    name = path[1:]
    for c in "/?=&":
        name = name.replace(c, "_")
    return name


def captured_endpoints(folder):
    """The response files of a capture folder (not the *_log.json metadata nor the notes)."""
    return frozenset(
        n
        for n in os.listdir(folder)
        if not n.endswith("_log.json")
        and n not in NOT_ENDPOINTS
        and os.path.isfile(os.path.join(folder, n))
    )


def wire_body(body, length):
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


def guess_type(name, body):
    """Content-Type for a capture without a log: what the Envoy sends for such a body."""
    if name == "info":
        return "text/xml"
    try:
        json.loads(body)
        return "application/json"
    except ValueError:
        return "text/html" if body.lstrip()[:1] == b"<" else "text/plain"


class SimClock:
    """Simulated time = start + (host time - anchor) * speed; the board uses the same numbers
    (environment variable DIVERTER_SIM), so both agree. virtual: the board's own clock leads
    instead (it moves only when the board sleeps, see firmware/board_sim.py) and the simulator
    reads it from the file the board keeps in the folder given to env()."""

    def __init__(self, speed=1.0, start=None, virtual=False):
        self.speed = float(speed)
        self.anchor = time.time()
        self.start = float(start) if start is not None else self.anchor
        self.virtual = virtual
        self.folder = None

    def now(self):
        if not self.virtual:
            return self.start + (time.time() - self.anchor) * self.speed
        try:
            with open(os.path.join(self.folder, "time")) as f:
                return self.start + float(f.read())
        except (OSError, TypeError, ValueError):
            return self.start  # the board has not slept yet

    def env(self, folder, stop_after=None):
        """DIVERTER_SIM for the board; stop_after: virtual seconds after which it stops."""
        self.folder = folder
        return "speed=%s,start=%.3f,anchor=%.3f,dir=%s%s%s" % (
            self.speed,
            self.start,
            self.anchor,
            folder,
            ",clock=virtual" if self.virtual else "",
            ",stop=%d" % stop_after if stop_after else "",
        )


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(serial, email, iat, lifetime_s=365 * 86400, role="owner"):
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

    def __init__(self, clock):
        self.clock = clock
        self.valid = set()
        self.lock = threading.Lock()

    def add(self, token):
        with self.lock:
            self.valid.add(token)

    def revoke_all(self):
        with self.lock:
            self.valid.clear()

    def accepts(self, token, serial):
        with self.lock:
            if token not in self.valid:
                return False
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        return claims.get("aud") == serial and claims["exp"] > self.clock.now()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, owner, port):
        self.owner = owner
        super().__init__(("127.0.0.1", port), _Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread, not in accept().
        ctx = self.owner.tls_context()
        cert = getattr(self.owner, "cert", None)  # the certificate this connection shows
        if ctx is not None:
            request.settimeout(10)
            try:
                request = ctx.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                self.owner.handshake_failures += 1
                return
            self.owner.handshakes += 1
            request.sim_cert = cert
        self.owner.connections.add(request)
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            self.owner.connections.discard(request)

    def handle_error(self, request, client_address):
        pass  # clients hanging up mid-reply are part of the tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server_version = "openresty/1.17.8.1"
    timeout = 30

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.owner.serve(self)

    def do_POST(self):
        self.server.owner.serve(self)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def reply(
        self, status, body=b"", ctype="application/json", headers=(), chunked=False, close=False
    ):
        sim = self.server.owner
        fault = sim.fault
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        if fault == "oversize":
            body = body + b" " * (sim.OVERSIZE - len(body))
        if chunked and fault not in ("truncate", "reset"):
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if fault == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.close()
            return
        if fault == "reset":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            raw = self.connection
            raw.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            self.close_connection = True
            raw.close()
            return
        if chunked:
            # The Envoy sends production.json in chunks of varying size.
            for i in range(0, len(body), 1000):
                piece = body[i : i + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)


class _Service:
    """A server on 127.0.0.1 in its own thread. TLS handshakes run in each connection's thread
    and are counted; stop() stops listening and drops every connection."""

    fault = None  # a failure _Handler.reply() plays (the Envoy's)
    OVERSIZE = 0

    def __init__(self, port):
        self.port = port
        self.handshakes = 0
        self.handshake_failures = 0
        self.connections = set()
        self._server = None

    def tls_context(self):
        raise NotImplementedError

    def serve(self, handler):
        raise NotImplementedError

    def start(self):
        self._server = _Server(self, self.port)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self):
        """Stop listening and drop every connection: connections are refused until start()."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.drop()

    def drop(self):
        """Drop every connection, still listening."""
        for c in list(self.connections):
            try:
                c.shutdown(socket.SHUT_RDWR)  # close() alone leaves it open while a file uses it
                c.close()
            except OSError:
                pass


class SimBattery:
    """A home battery in self-consumption mode: it absorbs export until full and covers import
    until its reserve, up to max_w either way. Power + discharging (the Envoy's sign)."""

    def __init__(self, capacity_wh=10000, max_w=3840, reserve_pct=20, soc_pct=50):
        self.capacity_wh = capacity_wh
        self.max_w = max_w
        self.reserve_pct = reserve_pct
        self.wh = capacity_wh * soc_pct / 100
        self.w = 0.0
        self.t = None
        self.charged_wh = self.discharged_wh = 0.0

    @property
    def soc(self):
        return 100 * self.wh / self.capacity_wh

    def flow(self, t, house_net_w):
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


class SimEnvoy(_Service):
    """One captured Envoy, served as it served its replies. fault: None, "503" (not ready),
    "401" (the token refused everywhere, as while an Envoy restarts), "html" (its home page
    where JSON was expected), "truncate", "reset", "oversize" (bodies), "all-zero" (the grid CT
    reads all zeros, an 8.3.x bug), "active-count-0" (production.json's 8.3.5528 bug).
    update_firmware() plays an Enphase push with a new certificate; refused_paths answers 401
    on optional endpoints; slow_s delays every reply; stop() refuses connections."""

    OVERSIZE = 40000  # bigger than any cap the firmware uses

    def __init__(self, folder=DEMO_FOLDER, pki=None, clock=None, authority=None, port=0):
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
        self.pki = pki
        self.cert = "envoy"  # which of the PKI's Envoy certificates is served
        self.endpoints = captured_endpoints(self.folder)
        self.per_meter = True  # serve /ivp/meters/readings/<eid>
        self.require_cookie = False  # True: a bare token is refused, the cookie is needed
        self.sessions = set()  # "sessionId=..." cookies the Envoy knows
        self._tokens = {}  # session -> the token it was opened with
        self.requests = []  # (method, path, had_bearer, had_cookie)
        self.served = []  # (certificate shown, method, path, had_bearer, had_cookie)
        self.missing = []  # paths asked for that the capture does not hold (404)
        self.live = None  # fn(sim_time) -> (pv_w, net_w) replaces the grid figure
        self.battery = None  # a SimBattery behind the storage CT and ensemble figures
        self.frozen_at = None  # a stuck meter: live values keep this timestamp
        self.info_software = None  # /info shows this firmware instead (update_firmware)
        self.info_serial = None  # /info shows this serial instead (another Envoy)
        self.refused_paths = ()  # path prefixes answered 401 (optional endpoints kept from owners)
        self.fault = None
        self.slow_s = 0
        self._ctx = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def tls_context(self):
        if not self.tls:
            return None
        if self.cert not in self._ctx:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.pki[self.cert + "_pem"], self.pki[self.cert + "_key"])
            self._ctx[self.cert] = ctx
        return self._ctx[self.cert]

    def reboot(self):
        """Like a real Envoy reboot: sessions are forgotten."""
        self.stop()
        self.sessions.clear()

    @property
    def host(self):
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

    def serve(self, h):
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

    def update_firmware(self, software, cert="envoy2"):
        """An Enphase firmware push: the Envoy comes back (sessions forgotten) with a new
        certificate, and /info shows the new version (the same serial). It keeps listening, so
        the board meets the new certificate on its next poll, not a refusal first (the
        envoy-reboot fault plays the refusals)."""
        self.swap_cert(cert)
        self.info_software = software

    def swap_cert(self, cert):
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


class SimCloud(_Service):
    """Enlighten login and Entrez tokens, both ways: login.json then /tokens (the owner's API),
    and Entrez's web login (/login, then /entrez_tokens: the token in an HTML textarea). As
    Enphase does since 2025, a request without a User-Agent is refused (403 on login.json, 406
    on /tokens), and login.json wants an Accept header. behaviour: None
    (works), "bad-credentials", "mfa", "locked" (the HTML login page with 200), "blocked", "5xx",
    "slow", "token-5xx", "token-garbage", "tokens-gone" (/tokens answers 400, as Entrez did to
    a cloud integration in 2026), "web-gone" (the web login's pages answer 404), "all-gone"
    (both); token_format: "raw", "json" or "html"."""

    def __init__(
        self,
        pki,
        clock=None,
        authority=None,
        email="owner@example.com",
        password="s3cret pass&word",
        port=0,
    ):
        super().__init__(port)
        self.pki = pki
        self.clock = clock or SimClock()
        self.authority = authority or Authority(self.clock)
        self.email = email
        self.password = password
        self.behaviour = None
        self.token_format = "raw"
        self.token_role = "owner"
        self.token_lifetime_s = 365 * 86400
        self.slow_s = 20
        self.sessions = set()
        self.logins = 0  # either way: login.json, or the web login's form
        self.web_logins = 0
        self.token_requests = 0
        self.web_sessions = set()
        self.agents = []  # the User-Agent of every request
        self.problems = []  # what the cloud found wrong in requests (for the tests)
        self.issued = []
        self._ctx = None

    def tls_context(self):
        if self._ctx is None:
            self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ctx.load_cert_chain(self.pki["cloud_pem"], self.pki["cloud_key"])
        return self._ctx

    @property
    def login_url(self):
        return "https://127.0.0.1:%d/login/login.json" % self.port

    @property
    def token_url(self):
        return "https://127.0.0.1:%d/tokens" % self.port

    def serve(self, h):
        if h.command != "POST":
            return h.reply(405, "")
        body = h._body()
        path = h.path.split("?")[0]
        agent = h.headers.get("User-Agent") or ""
        self.agents.append(agent)
        if path in ("/login/login.json", "/tokens") and not agent.strip():
            # What Enphase has answered since 2025 to a request without a browser-like agent.
            if path == "/tokens":
                self.token_requests += 1
                return h.reply(406, "<html><body>Not Acceptable</body></html>", "text/html")
            self.logins += 1
            return h.reply(403, "<html><body><h1>403 Forbidden</h1></body></html>", "text/html")
        if path == "/login/login.json":
            if not (h.headers.get("Accept") or "").strip():
                self.logins += 1
                return h.reply(406, "<html><body>Not Acceptable</body></html>", "text/html")
            return self._login(h, body)
        if path == "/tokens":
            return self._token(h, body)
        if path == "/login":
            return self._web_login(h, body)
        if path == "/entrez_tokens":
            return self._web_token(h, body)
        h.reply(404, '{"error": "not found"}')

    def _web_login(self, h, body):
        # Entrez's login form: a good login redirects with a session cookie; a bad one shows
        # the form again.
        self.logins += 1
        self.web_logins += 1
        if self.behaviour in ("web-gone", "all-gone"):
            return h.reply(404, "<html><body>Not Found</body></html>", "text/html")
        if h.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            self.problems.append("web login Content-Type %r" % h.headers.get("Content-Type"))
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
        if sorted(fields) != ["password", "username"]:
            self.problems.append("web login fields %r" % sorted(fields))
        if fields.get("username") != self.email or fields.get("password") != self.password:
            return h.reply(200, ENTREZ_LOGIN_PAGE, "text/html")
        session = secrets.token_hex(16)
        self.web_sessions.add(session)
        return h.reply(
            302,
            "",
            "text/html",
            [
                ("Location", "/entrez_tokens"),
                ("Set-Cookie", "SESSION=%s; Path=/; Secure" % session),
            ],
        )

    def _web_token(self, h, body):
        self.token_requests += 1
        if self.behaviour in ("web-gone", "all-gone"):
            return h.reply(404, "<html><body>Not Found</body></html>", "text/html")
        cookies = [c.strip() for c in (h.headers.get("Cookie") or "").split(";")]
        if not any(c[8:] in self.web_sessions for c in cookies if c.startswith("SESSION=")):
            return h.reply(302, "", "text/html", [("Location", "/login")])
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
        if sorted(fields) != ["serialNum"]:
            self.problems.append("web token fields %r" % sorted(fields))
        token = self._issue(fields.get("serialNum"))
        page = (
            "<!DOCTYPE html><html><head><title>Entrez</title></head><body><form>"
            '<textarea name="accessToken" id="JWTToken" cols="30" rows="10" readonly>%s'
            "</textarea></form></body></html>" % token
        )
        return h.reply(200, page, "text/html")

    def _issue(self, serial):
        token = make_jwt(
            serial, self.email, self.clock.now(), self.token_lifetime_s, self.token_role
        )
        self.issued.append(token)
        self.authority.add(token)
        return token

    def _login(self, h, body):
        self.logins += 1
        if "password" in h.path or "email" in h.path:
            self.problems.append("credentials in the URL")
        if h.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            self.problems.append("login Content-Type %r" % h.headers.get("Content-Type"))
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
        if sorted(fields) != ["user[email]", "user[password]"]:
            self.problems.append("login fields %r" % sorted(fields))
        b = self.behaviour
        if b == "slow":
            time.sleep(self.slow_s)
        if b == "5xx":
            return h.reply(503, "<html>Service Unavailable</html>", "text/html")
        if b == "locked":
            return h.reply(200, ENLIGHTEN_LOGIN_PAGE, "text/html")
        if b == "blocked":
            return h.reply(200, json.dumps({"success": False, "isBlocked": True}))
        if (
            b == "bad-credentials"
            or fields.get("user[email]") != self.email
            or fields.get("user[password]") != self.password
        ):
            return h.reply(401, json.dumps({"message": "Invalid email or password"}))
        if b == "mfa":
            return h.reply(
                200,
                json.dumps({"success": True, "isBlocked": False}),
                headers=[("Set-Cookie", "login_otp_nonce=%s; path=/" % secrets.token_hex(8))],
            )
        session = secrets.token_hex(16)
        self.sessions.add(session)
        reply = {
            "message": "success",
            "session_id": session,
            "manager_token": "x.y.z",
            "is_consumer": True,
            "system_id": "1234567",
            "redirect_url": "",
        }
        return h.reply(200, json.dumps(reply))

    def _token(self, h, body):
        self.token_requests += 1
        if h.headers.get("Content-Type") != "application/json":
            self.problems.append("token Content-Type %r" % h.headers.get("Content-Type"))
        try:
            req = json.loads(body)
        except ValueError:
            req = {}
        if sorted(req) != ["serial_num", "session_id", "username"]:
            self.problems.append("token fields %r" % sorted(req))
        if self.behaviour == "token-5xx":
            return h.reply(502, "<html>Bad Gateway</html>", "text/html")
        if self.behaviour in ("tokens-gone", "all-gone"):
            return h.reply(400, '{"message": "Bad Request"}')
        if req.get("session_id") not in self.sessions or req.get("username") != self.email:
            return h.reply(401, "")
        if self.behaviour == "token-garbage":
            return h.reply(200, "Sorry, something went wrong", "text/plain")
        token = self._issue(req.get("serial_num"))
        if self.token_format == "json":
            return h.reply(
                200,
                json.dumps(
                    {
                        "generation_time": int(self.clock.now()),
                        "token": token,
                        "expires_at": int(self.clock.now()) + self.token_lifetime_s,
                    }
                ),
            )
        if self.token_format == "html":
            page = (
                '<html><body><textarea name="accessToken" id="JWTToken" cols="30" rows="10" >%s'
                "</textarea></body></html>" % token
            )
            return h.reply(200, page, "text/html")
        return h.reply(200, token, "text/plain")


class Simulation:
    """The Envoy and the cloud together, sharing a clock and the token authority."""

    def __init__(self, folder=DEMO_FOLDER, pki_dir=None, speed=1.0, start=None, virtual=False):
        pki_dir = pki_dir or os.path.join(ROOT, "build", "pki")
        self.clock = SimClock(speed, start, virtual)
        self.authority = Authority(self.clock)
        self.pki = certs.make(pki_dir)
        self.envoy = SimEnvoy(folder, self.pki, self.clock, self.authority)
        self.cloud = SimCloud(self.pki, self.clock, self.authority)

    def start(self):
        self.envoy.start()
        self.cloud.start()
        return self

    relay_file = None  # the simulated board writes its relay state here ("1" or "0")

    def relay_on(self):
        """The heater's share of its full power now: 1.0 or 0.0 for a relay; for a burst output
        the share of the chunk in play, 0.0 once the chunk has ended (its lease, board_sim)."""
        try:
            with open(self.relay_file) as f:
                text = f.read().split()
        except (OSError, TypeError):
            return 0.0
        try:
            share = float(text[0])
            if len(text) > 1 and self.clock.now() > float(text[1]) + 0.01:
                return 0.0  # not renewed in time
        except (IndexError, ValueError):
            return 0.0
        return share

    def steady(self, pv_w, house_net_w, heater_w=2000.0):
        """A live function: constant PV and house, plus the heater while the relay is on."""
        return lambda t: (pv_w, house_net_w + (heater_w if self.relay_on() else 0.0))

    def stop(self):
        self.envoy.stop()
        self.cloud.stop()

    def config(self, **overrides):
        """A config.json for the firmware against this simulation; sections can be overridden."""
        cfg = {
            "wifi": {"ssid": "simulated", "password": ""},
            "enlighten": {
                "email": self.cloud.email,
                "password": self.cloud.password,
                "login_url": self.cloud.login_url,
                "token_url": self.cloud.token_url,
                "ca_file": self.pki["ca_der"],
            },
            "envoy": {"host": self.envoy.host, "pin": "tofu"},
            "heater": {"power_w": 2000, "relay_pin": 23, "active_high": True},
            "control": dict(TEST_CONTROL),
            "clock": {"utc_offset_min": 0, "dst": "none"},
        }
        for section, values in overrides.items():
            cfg.setdefault(section, {}).update(values)
        return cfg


def _shown(path):
    """A path as the user should type it from the repository root."""
    rel = os.path.relpath(path, ROOT)
    return path if rel.startswith("..") else rel


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Run the simulated Envoy and Enphase cloud on 127.0.0.1 until Ctrl-C, to try"
        " tools.token, tools.envoy_read and tools.envoy_pin without hardware."
    )
    p.add_argument(
        "--folder", default=DEMO_FOLDER, help="capture folder under tools/fixtures/envoy"
    )
    p.add_argument("--envoy-port", type=int, default=0, help="default: any free port")
    p.add_argument("--cloud-port", type=int, default=0, help="default: any free port")
    p.add_argument("--config", default=os.path.join(ROOT, "build", "sim", "config.json"))
    p.add_argument("--pki", default=os.path.join(ROOT, "build", "pki"), help="test CA folder")
    args = p.parse_args(argv)
    if not os.path.isfile(os.path.join(FIXTURES, args.folder, "info")):
        folders = sorted(d for d in os.listdir(FIXTURES) if d[0].isdigit())
        p.error("no capture folder %r; choose one of: %s" % (args.folder, ", ".join(folders)))
    sim = Simulation(args.folder, pki_dir=args.pki)
    sim.envoy.port, sim.cloud.port = args.envoy_port, args.cloud_port
    try:
        sim.start()
    except OSError as e:
        p.error("cannot listen on 127.0.0.1: %s" % e)
    cfg = sim.config()
    cfg["control"] = {}  # the field defaults, as in a real config.json
    os.makedirs(os.path.dirname(os.path.abspath(args.config)), exist_ok=True)
    with open(args.config, "w") as f:
        json.dump(cfg, f, indent=2)
    e = sim.envoy
    py, conf = _shown(sys.executable), _shown(os.path.abspath(args.config))
    print(
        "sim: Envoy %s serial %s (capture %s) at %s://%s"
        % (e.software, e.serial, args.folder, "https" if e.tls else "http", e.host)
    )
    print(
        "sim: Enlighten and Entrez at https://127.0.0.1:%d, certificate from the test CA %s"
        % (sim.cloud.port, _shown(sim.pki["ca_der"]))
    )
    print("sim: wrote %s (the cloud URLs, the test CA, the Envoy's host:port)" % conf)
    print("try, from %s in another terminal:" % ROOT)
    print("  %s -m tools.token --config %s" % (py, conf))
    print("  %s -m tools.envoy_read --config %s" % (py, conf))
    if e.tls:
        print("  %s -m tools.envoy_pin --host %s" % (py, e.host))
    else:
        print("  (firmware %s speaks plain HTTP: no certificate to pin)" % e.software)
    print("sim: running; Ctrl-C stops it", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in background
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        sim.stop()
    print("sim: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
