# The Envoy token's life on the board: kept on flash (token.json), renewed well before it runs out
# or when the Envoy rejects it, and never at the cost of the Enlighten account. Cloud logins back
# off exponentially from 5 minutes after a failure, and at most 6 happen in any 24 hours; that
# record is kept on flash too (cloud.json), so reboots cannot turn into a login storm.
import hashlib

from firmware import jwt, store

TOKEN_FILE = "token.json"
CLOUD_FILE = "cloud.json"
RENEW_BEFORE_S = 30 * 86400  # owner tokens last a year: renew with 30 days left
FIRST_BACKOFF_S = 300
MAX_BACKOFF_S = 86400
LOGINS_PER_DAY = 6


def _credential_id(email, password):
    # Changed credentials (a fixed typo) deserve a fresh start of the back-off.
    h = hashlib.sha256(("%s\n%s" % (email, password)).encode()).digest()
    return "".join("%02x" % b for b in h[:8])


class TokenKeeper:
    def __init__(self, envoy_cfg, cloud_cfg):
        self.pasted = bool(envoy_cfg["token"])
        self._pasted_token = envoy_cfg["token"]
        self.token = None
        self.claims = None
        self.rejected = False
        self.unproven = False  # fetched, but the Envoy has not accepted it yet
        self.problem = None  # why there is no usable token, for the console
        cred = _credential_id(cloud_cfg["email"], cloud_cfg["password"])
        saved = store.load(CLOUD_FILE)
        self._log = saved if type(saved) is dict and saved.get("cred") == cred else {}
        self._log["cred"] = cred

    # -- the token ---------------------------------------------------------------------------

    def load(self):
        """The pasted token (envoy.token) or the one kept on flash. Returns a line to show."""
        if self.pasted:
            return self._use(self._pasted_token, "pasted")
        saved = store.load(TOKEN_FILE)
        if type(saved) is dict and saved.get("token"):
            try:
                return self._use(saved["token"], "stored")
            except ValueError as e:
                self.problem = "token: the stored token is unusable (%s); getting a new one" % e
                return self.problem
        self.problem = "token: none yet"
        return self.problem

    def _use(self, token, source):
        self.claims = jwt.decode(token)
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
        """Seconds before the next cloud login is allowed (0: now)."""
        day_ago = now - 86400
        attempts = [t for t in self._log.get("attempts", []) if t > day_ago]
        self._log["attempts"] = attempts
        wait = self._log.get("next", 0) - now
        if len(attempts) >= LOGINS_PER_DAY:
            wait = max(wait, attempts[0] + 86400 - now)
        return max(0, wait)

    def logins_today(self, now):
        """Cloud logins in the last 24 hours."""
        return len([t for t in self._log.get("attempts", []) if t > now - 86400])

    def failures(self):
        return self._log.get("failures", 0)

    def _record(self, now, ok, attempt=True):
        if attempt:
            self._log["attempts"] = self._log.get("attempts", []) + [now]
        if ok:
            self._log["failures"] = 0
            self._log["next"] = 0
        else:
            n = self._log.get("failures", 0) + 1
            self._log["failures"] = n
            self._log["next"] = now + min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (n - 1))
        store.save(CLOUD_FILE, self._log)

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
            claims = jwt.decode(token)
        except ValueError as e:
            self.problem = "token: the cloud sent an unusable token (%s)" % e
            return self.problem + self._retry_note(now)
        self._record(now, True, attempt=False)  # it was not a failure after all
        store.save(TOKEN_FILE, {"token": token})
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
