"""The simulated Enphase cloud: Enlighten's login.json and Entrez's /tokens (and its web login)
on one HTTPS server whose certificate the test CA signs. It checks the exact form fields and JSON
body, issues JWTs the simulated Envoy accepts, and plays each failure.
"""

import json
import secrets
import ssl
import time
from urllib.parse import parse_qsl

from tools.sim.clock import SimClock
from tools.sim.envoy import Authority, make_jwt
from tools.sim.server import Handler, Service, server_context

ENLIGHTEN_LOGIN_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Enphase Energy | Login</title></head><body>"
    "<form action='/login' method='post'><input name='user[email]'></form></body></html>\n"
)


ENTREZ_LOGIN_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Entrez</title></head><body><form action='/login' "
    "method='post'><input name='username'><input name='password' type='password'></form>"
    "</body></html>\n"
)


class SimCloud(Service):
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
        pki: dict[str, str],
        clock: SimClock | None = None,
        authority: Authority | None = None,
        email: str = "owner@example.com",
        password: str = "s3cret pass&word",
        port: int = 0,
    ) -> None:
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
        self.sessions: set[str] = set()
        self.logins = 0  # either way: login.json, or the web login's form
        self.web_logins = 0
        self.token_requests = 0
        self.web_sessions: set[str] = set()
        self.agents: list[str | None] = []  # the User-Agent of every request
        self.problems: list[str] = []  # what the cloud found wrong in requests (for the tests)
        self.issued: list[str] = []
        self._ctx: ssl.SSLContext | None = None

    def tls_context(self) -> ssl.SSLContext:
        if self._ctx is None:
            self._ctx = server_context(self.pki["cloud_pem"], self.pki["cloud_key"])
        return self._ctx

    @property
    def login_url(self) -> str:
        return "https://127.0.0.1:%d/login/login.json" % self.port

    @property
    def token_url(self) -> str:
        return "https://127.0.0.1:%d/tokens" % self.port

    def serve(self, h: Handler) -> None:
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
