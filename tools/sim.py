"""The simulated Envoy and Enlighten/Entrez: one implementation for the tests, the demo and the
fault tests. CPython, real TLS on 127.0.0.1, HTTP/1.1 keep-alive.

SimEnvoy serves one folder of tools/fixtures/envoy as the Envoy served it: the bodies byte for
byte, with the status, Content-Type, chunked encoding and Connection header recorded in the
capture's *_log.json. Firmware 7 and newer get HTTPS with a self-signed certificate and need a
token accepted by /auth/check_jwt (which sets sessionId); older firmware speaks plain HTTP.
A `live` function can replace the grid figure, and `fault` injects failures.

SimCloud is Enlighten's login.json and Entrez's /tokens on one HTTPS server whose certificate a
test CA signs. It checks the exact form fields and JSON body, issues JWTs the SimEnvoy accepts,
and plays each failure.
"""

import base64
import json
import os
import secrets
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from tools import certs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tools", "fixtures", "envoy")
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


class SimClock:
    """Simulated time = start + (host time - anchor) * speed; the board uses the same numbers
    (environment variable DIVERTER_SIM), so both agree."""

    def __init__(self, speed=1.0, start=None):
        self.speed = float(speed)
        self.anchor = time.time()
        self.start = float(start) if start is not None else self.anchor

    def now(self):
        return self.start + (time.time() - self.anchor) * self.speed

    def env(self, folder):
        return "speed=%s,start=%.3f,anchor=%.3f,dir=%s" % (
            self.speed,
            self.start,
            self.anchor,
            folder,
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
        if ctx is not None:
            request.settimeout(10)
            try:
                request = ctx.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                self.owner.handshake_failures += 1
                return
            self.owner.handshakes += 1
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
        for c in list(self.connections):
            try:
                c.shutdown(socket.SHUT_RDWR)  # close() alone leaves it open while a file uses it
                c.close()
            except OSError:
                pass


class SimEnvoy(_Service):
    OVERSIZE = 40000  # bigger than any cap the firmware uses

    def __init__(
        self, folder="8.2.4345_with_device_data", pki=None, clock=None, authority=None, port=0
    ):
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
        self.per_meter = True  # serve /ivp/meters/readings/<eid>
        self.require_cookie = True
        self.sessions = set()
        self.requests = []  # (method, path, had_bearer, had_cookie)
        self.live = None  # fn(sim_time) -> (pv_w, net_w) replaces the grid figure
        self.frozen_at = None  # a stuck meter: live values keep this timestamp
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
        path = os.path.join(self.folder, name)
        if not os.path.exists(path):
            return None, None
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

    def _live_readings(self, readings):
        pv, net = self.live(self.clock.now())
        now = int(self.clock.now()) if self.frozen_at is None else self.frozen_at
        eids = self._meters()
        for r in readings:
            if r["eid"] == eids.get("net-consumption"):
                r["activePower"] = round(net, 3)
            elif r["eid"] == eids.get("total-consumption"):
                r["activePower"] = round(net + pv, 3)
            elif r["eid"] == eids.get("production"):
                r["activePower"] = round(pv, 3)
            else:
                continue
            r["timestamp"] = now
        return readings

    def _live_production(self, report):
        pv, net = self.live(self.clock.now())
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
        if not self.tls:
            return True
        auth = h.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        cookie = h.headers.get("Cookie", "")
        session = any(c.strip() in self.sessions for c in cookie.split(";"))
        bearer_ok = token is not None and self.authority.accepts(token, self.serial)
        if self.require_cookie:
            return bearer_ok and session
        return bearer_ok or session

    def _unauthorised(self, h):
        target = "/login.html" if self.version >= (8, 3, 5289) else "/home"
        h.reply(401, UNAUTHORISED_HTML % target, "text/html")

    def serve(self, h):
        if h.command == "POST":
            h._body()
        path = h.path
        auth = h.headers.get("Authorization", "")
        self.requests.append(
            (
                h.command,
                path,
                auth.startswith("Bearer "),
                "sessionId=" in h.headers.get("Cookie", ""),
            )
        )
        if self.slow_s:
            time.sleep(self.slow_s)
        if self.fault == "503":
            return h.reply(503, "", "text/html")
        if path == "/info" or path == "/info.xml":
            body, log = self._file("info")
            return h.reply(200, body, "text/xml")
        if path == "/auth/check_jwt":
            token = auth[7:] if auth.startswith("Bearer ") else ""
            if not self.tls or not self.authority.accepts(token, self.serial):
                return self._unauthorised(h)
            sid = secrets.token_hex(16)
            self.sessions.add("sessionId=" + sid)
            return h.reply(
                200,
                VALID_TOKEN_HTML,
                "text/html",
                [("Set-Cookie", "sessionId=%s; Path=/; HttpOnly; Secure" % sid)],
            )
        if not self._authorised(h):
            return self._unauthorised(h)
        if self.fault == "html":
            return h.reply(200, "<html><body>Envoy home</body></html>", "text/html")
        if path == "/ivp/meters":
            return self._send_file(h, "ivp_meters")
        if path == "/ivp/meters/readings":
            return self._send_file(h, "ivp_meters_readings", self._live_readings)
        if path.startswith("/ivp/meters/readings/") and self.per_meter:
            body, log = self._file("ivp_meters_readings")
            try:
                eid = int(path.rsplit("/", 1)[1])
                entries = json.loads(body)
                entry = [r for r in entries if r.get("eid") == eid]
            except (TypeError, ValueError):
                entry = []
            if not entry:
                return h.reply(404, '{"error": "404 - Not Found"}')
            if self.live:
                entry = self._live_readings(entry)
            return h.reply(200, json.dumps(entry[0], indent=4))
        if path in ("/production.json", "/production.json?details=1"):
            return self._send_file(h, "production.json", self._live_production)
        return h.reply(404, '{"error": "404 - Not Found"}')

    def _send_file(self, h, name, live=None):
        body, log = self._file(name)
        if body is None:
            return h.reply(404, '{"error": "404 - Not Found"}')
        headers = {k.lower(): v for k, v in (log.get("headers") or {}).items()}
        status = log.get("code", 200)
        if live and self.live and status == 200:
            body = json.dumps(live(json.loads(body)), indent=4).encode()
        chunked = "chunked" in headers.get("transfer-encoding", "")
        if name == "production.json" and self.tls and "content-length" not in headers:
            chunked = True  # 7.x/8.x always chunk production.json
        return h.reply(
            status,
            body,
            headers.get("content-type", "application/json"),
            chunked=chunked,
            close=headers.get("connection") == "close",
        )


class SimCloud(_Service):
    """Enlighten login and Entrez tokens. behaviour: None (works), "bad-credentials", "mfa",
    "locked" (the HTML login page with 200), "blocked", "5xx", "slow", "token-5xx",
    "token-garbage"; token_format: "raw", "json" or "html"."""

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
        self.logins = 0
        self.token_requests = 0
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
        if h.path.split("?")[0] == "/login/login.json":
            return self._login(h, body)
        if h.path == "/tokens":
            return self._token(h, body)
        h.reply(404, '{"error": "not found"}')

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
        if req.get("session_id") not in self.sessions or req.get("username") != self.email:
            return h.reply(401, "")
        if self.behaviour == "token-garbage":
            return h.reply(200, "Sorry, something went wrong", "text/plain")
        token = make_jwt(
            req.get("serial_num"),
            self.email,
            self.clock.now(),
            self.token_lifetime_s,
            self.token_role,
        )
        self.issued.append(token)
        self.authority.add(token)
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

    def __init__(self, folder="8.2.4345_with_device_data", pki_dir=None, speed=1.0, start=None):
        pki_dir = pki_dir or os.path.join(ROOT, "build", "pki")
        self.clock = SimClock(speed, start)
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
        try:
            with open(self.relay_file) as f:
                return f.read() == "1"
        except (OSError, TypeError):
            return False

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
