# The Envoy token's life on the board: kept on flash (token.json), renewed well before it runs out
# or when the Envoy rejects it, and never at the cost of the Enlighten account. Cloud logins back
# off exponentially from 5 minutes after a failure, and at most 6 happen in any 24 hours; that
# record is kept on flash too (cloud.json), so reboots cannot turn into a login storm. Both files
# are untrusted input: every field is checked, and a damaged or impossible record is dropped
# (with a console line) rather than blocking logins for good.
import hashlib

from firmware import console, jwt, store
from firmware.clock import is_set

TOKEN_FILE = "token.json"
CLOUD_FILE = "cloud.json"
RENEW_BEFORE_S = 30 * 86400  # owner tokens last a year: renew with 30 days left
FIRST_BACKOFF_S = 300
MAX_BACKOFF_S = 86400
LOGINS_PER_DAY = 6
MAX_TOKEN = 4096  # characters; an Entrez token is about 1 KB
YEAR_2000 = 946684800
YEAR_2100 = 4102444800


def _credential_id(email, password):
    # Changed credentials (a fixed typo) deserve a fresh start of the back-off.
    h = hashlib.sha256(("%s\n%s" % (email, password)).encode()).digest()
    return "".join("%02x" % b for b in h[:8])


def claims_of(token):
    """jwt.decode, plus the ranges and types the board relies on. Raises ValueError(reason)."""
    if type(token) is not str or len(token) > MAX_TOKEN:
        raise ValueError("the token is not text of at most %d characters" % MAX_TOKEN)
    claims = jwt.decode(token)
    for name in ("exp", "iat"):
        t = claims.get(name)
        if t is not None and not YEAR_2000 <= t <= YEAR_2100:
            raise ValueError("the token's %s is not a time between 2000 and 2100" % name)
    for name in ("aud", "enphaseUser", "username"):
        v = claims.get(name)
        if v is not None and (type(v) is not str or len(v) > 256):
            raise ValueError("the token's %s is not text" % name)
    return claims


def _is_time(t):
    return type(t) is int and 0 <= t <= YEAR_2100


def _login_record(saved, cred, path):
    # cloud.json, field by field: a damaged field is dropped and said, never trusted.
    log = {"cred": cred, "attempts": [], "next": 0, "failures": 0}
    if saved is None:
        return log
    if type(saved) is not dict:
        console.problem("token: %s is not a login record; starting a new one" % path)
        return log
    if saved.get("cred") != cred:
        return log  # other credentials
    bad = []
    attempts = saved.get("attempts", [])
    if type(attempts) is list and len(attempts) <= 64 and all(_is_time(t) for t in attempts):
        log["attempts"] = sorted(attempts)[-LOGINS_PER_DAY:]
    else:
        bad.append("attempts")
    for name, limit in (("next", YEAR_2100), ("failures", 1000)):
        v = saved.get(name, 0)
        if type(v) is int and 0 <= v <= limit:
            log[name] = v
        else:
            bad.append(name)
    if bad:
        console.problem("token: %s: %s damaged; ignoring it" % (path, " and ".join(bad)))
    return log


class TokenKeeper:
    def __init__(self, envoy_cfg, cloud_cfg, token_file=TOKEN_FILE, cloud_file=CLOUD_FILE):
        """token_file, cloud_file: where the token and the login record are kept (the board's
        flash, or the host tools' .diverter folder)."""
        self.token_file = token_file
        self.cloud_file = cloud_file
        self.pasted = bool(envoy_cfg["token"])
        self._pasted_token = envoy_cfg["token"]
        self.token = None
        self.claims = None
        self.rejected = False
        self.unproven = False  # fetched, but the Envoy has not accepted it yet
        self.problem = None  # why there is no usable token, for the console
        cred = _credential_id(cloud_cfg["email"], cloud_cfg["password"])
        self._log = _login_record(store.load(cloud_file), cred, cloud_file)

    # -- the token ---------------------------------------------------------------------------

    def load(self):
        """The pasted token (envoy.token) or the one kept on flash. Returns a line to show."""
        if self.pasted:
            token, source = self._pasted_token, "pasted"
        else:
            saved = store.load(self.token_file)
            if saved is None:
                self.problem = "token: none yet"
                return self.problem
            token = saved.get("token") if type(saved) is dict else None
            source = "stored"
        try:
            return self._use(token, source)
        except ValueError as e:
            self.token = self.claims = None
            if self.pasted:
                self.problem = "token: the pasted token is unusable (%s); fix envoy.token" % e
            else:
                self.problem = "token: the stored token is unusable (%s); getting a new one" % e
            return self.problem

    def _use(self, token, source):
        self.claims = claims_of(token)
        self.token = token.strip()
        self.rejected = False
        self.problem = None
        return "token: %s %s token for Envoy %s" % (source, self.kind(), self.claims.get("aud"))

    def kind(self):
        return (self.claims or {}).get("enphaseUser") or "unknown-role"

    def days_left(self, now):
        if not self.claims:
            return None
        return jwt.seconds_left(self.claims, now) / 86400

    def renewal_due(self, now):
        """Why a new token is needed now, or None."""
        if self.pasted:
            return None  # the cloud is never contacted
        if self.token is None:
            return "no token yet"
        if self.rejected:
            return "the Envoy rejected the token"
        left = jwt.seconds_left(self.claims, now)
        life = jwt.lifetime(self.claims)
        if jwt.is_installer(self.claims) and life:
            if left < life / 2:  # installer tokens last 12 hours: renew at half-life
                return "installer token past half-life"
            return None
        if left < RENEW_BEFORE_S:
            return "%.1f days left" % (left / 86400) if left > 0 else "expired"
        return None

    def usable(self, now):
        if self.token is None:
            return False
        if self.pasted and jwt.seconds_left(self.claims, now) <= 0:
            self.problem = "token: the pasted token has expired; paste a new one in envoy.token"
            return False
        return True

    def reject(self):
        """The Envoy refused the token even after a fresh check_jwt."""
        self.rejected = True

    # -- protecting the account --------------------------------------------------------------

    def login_wait(self, now):
        """Seconds before the next cloud login is allowed (0: now); never more than a day."""
        now = int(now)
        log = self._log
        if is_set(now) and (
            log["next"] > now + MAX_BACKOFF_S or log["attempts"] and log["attempts"][-1] > now
        ):
            # Written while the clock was wrong (a year like 2096): it would block for decades.
            console.problem(
                "token: %s holds logins from the future (the clock was wrong); forgetting them"
                % self.cloud_file
            )
            log["attempts"] = [t for t in log["attempts"] if t <= now]
            log["next"] = log["failures"] = 0
        attempts = [t for t in log["attempts"] if t > now - 86400]
        log["attempts"] = attempts
        wait = log["next"] - now
        if len(attempts) >= LOGINS_PER_DAY:
            wait = max(wait, attempts[-LOGINS_PER_DAY] + 86400 - now)
        return max(0, min(MAX_BACKOFF_S, wait))

    def logins_today(self, now):
        """Cloud logins in the last 24 hours."""
        return len([t for t in self._log["attempts"] if now - 86400 < t <= now])

    def failures(self):
        return self._log["failures"]

    def _record(self, now, ok, attempt=True):
        now = int(now)
        log = self._log
        if attempt:
            log["attempts"] = sorted(log["attempts"] + [now])[-LOGINS_PER_DAY:]
        if ok:
            log["failures"] = 0
            log["next"] = 0
        else:
            n = min(log["failures"] + 1, 1000)
            log["failures"] = n
            log["next"] = now + min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** min(n - 1, 16))
        store.save(self.cloud_file, log)

    def renew(self, now, serial, fetch):
        """One cloud attempt, if allowed. fetch(serial) returns a token or raises
        enlighten.CloudError. Returns a line for the console; self.problem is set on failure,
        and the old token stays in use."""
        wait = self.login_wait(now)
        if wait:
            return None
        # On flash before the cloud is contacted, counted as a failure until it succeeds: a
        # board that crashes or loses power mid-login cannot log in again at every boot.
        self._record(now, False)
        try:
            token = fetch(serial)
        except Exception as e:  # enlighten.CloudError; its message holds no secret
            self.problem = "token: %s" % e
            return self.problem + self._retry_note(now)
        try:
            claims = claims_of(token)
        except ValueError as e:
            self.problem = "token: the cloud sent an unusable token (%s)" % e
            return self.problem + self._retry_note(now)
        self._record(now, True, attempt=False)  # it was not a failure after all
        store.save(self.token_file, {"token": token})
        self._use(token, "new")
        self.unproven = True
        note = ""
        if serial and claims.get("aud") != serial:
            note = " (it names Envoy %s, not %s)" % (claims.get("aud"), serial)
        return "token: new %s token, %.0f days left%s" % (self.kind(), self.days_left(now), note)

    def fresh_token_rejected(self, now):
        """A token just fetched was refused by the Envoy: count its login as a failure."""
        self._record(now, False, attempt=False)
        self.unproven = False
        self.reject()

    def _retry_note(self, now):
        return "; next login attempt in %d min" % ((self.login_wait(now) + 59) // 60)
