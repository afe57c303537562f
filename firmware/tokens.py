# The Envoy token's life on the board: kept on flash (token.json), renewed well before it runs out
# or when the Envoy rejects it, and never at the cost of the Enlighten account. Cloud logins back
# off exponentially from 5 minutes after a failure, and at most 6 happen in any 24 hours; that
# record is kept on flash too (cloud.json), so reboots cannot turn into a login storm. Both files
# are untrusted input: every field is checked, and a damaged or impossible record is dropped
# (with a console line) rather than blocking logins for good. This is the part that stays in
# RAM, with the account guard's verdict; reading tokens and logins (account.py) and the account
# guard (guard.py) load when needed.
from firmware import store
from firmware.clock import DAY_S, is_set
from firmware.compat import const, unload
from firmware.console import uptime

TOKEN_FILE = "token.json"
CLOUD_FILE = "cloud.json"
RENEW_BEFORE_S = 30 * 86400  # owner tokens last a year: renew with 30 days left
SHORT_S = 2 * 86400  # tokens shorter-lived (installer accounts: 12 h) renew at half-life
_CLOCK_SLACK_S = const(600)  # a clock set back by less (NTP's corrections) is not caught lying
_RESTART_EVERY_S = const(900)  # restarts for a login: not more often, whatever happens at boot


def claims_of(token):
    """jwt.decode, plus the ranges and types the board relies on. Raises ValueError(reason)."""
    return _account().claims_of(token)


class TokenKeeper:
    def __init__(self, envoy_cfg, cloud_cfg, token_file=TOKEN_FILE, cloud_file=CLOUD_FILE):
        """token_file, cloud_file: where the token and the login record are kept (the board's
        flash, or the host tools' .diverter folder)."""
        self.token_file = token_file
        self.cloud_file = cloud_file
        self.pasted = bool(envoy_cfg["token"])
        self._pasted_token = envoy_cfg["token"]
        self._email = cloud_cfg["email"]
        self._password = cloud_cfg["password"]
        self.token = None
        self.claims = None
        self.rejected = False
        self.unproven = False  # fetched, but the Envoy has not accepted it yet
        self.problem = None  # why there is no usable token, for the console
        self._log = None  # the login record (cloud.json), read at first need
        self._read_at = 0  # the uptime (s) when the record was read, or its time last set
        # When a cloud login is next allowed: the guard's verdict, kept until the record
        # changes, so that a renewal falling due mid-run loads nothing. None: not known yet.
        self.login_at = None
        self.source = None  # where the token came from: "stored", "pasted" or "new"
        self.via = None  # the cloud path that gave it (enlighten.OWNER or WEB): tried first next
        self.saved = False  # a new token is on flash (else RAM is all that holds it)

    def load(self):
        """The pasted token (envoy.token) or the one kept on flash. Returns a line to show."""
        return _account().load(self)

    def line(self):
        return "token: %s %s token for Envoy %s" % (
            self.source,
            self.kind(),
            self.claims.get("aud"),
        )

    def kind(self):
        return (self.claims or {}).get("enphaseUser") or "unknown-role"

    def days_left(self, now):
        """Days to the token's expiry, to a tenth (Home Assistant shows it as given)."""
        if not self.claims:
            return None
        return int((self.claims["exp"] - now) / 8640) / 10

    def left_text(self, now):
        days = self.days_left(now)
        return "%.0f days" % days if days >= 2 else "%.1f hours" % (days * 24)

    def _life(self):
        c = self.claims
        return c["exp"] - c["iat"] if c.get("iat") is not None else None

    @staticmethod
    def short(life):
        """A token lifetime (s, None: unknown) that renews at half-life (installer accounts)."""
        return life is not None and 0 < life < SHORT_S

    def renewal_due(self, now):
        """Why a new token is needed now, or None."""
        if self.pasted:
            return None  # the cloud is never contacted
        if self.token is None:
            return "no token yet"
        if self.rejected:
            return "the Envoy rejected the token"
        c = self.claims
        left = c["exp"] - now
        life = self._life()
        if life and (self.short(life) or c.get("enphaseUser") == "installer"):
            if left < life / 2:  # installer tokens last 12 hours: renew at half-life
                return "a %.0f-hour token past half-life" % (life / 3600)
            return None
        if left < RENEW_BEFORE_S:
            return "%.1f days left" % (left / 86400) if left > 0 else "expired"
        return None

    def urgent(self, now):
        """A renewal that should not wait for the heater to stop: a quarter of a short token's
        life left, or a day of a long one's."""
        life = self._life() if self.claims else None
        left = self.claims["exp"] - now if self.claims else 0
        return left < (life / 4 if self.short(life) else DAY_S)

    def usable(self, now):
        if self.token is None:
            return False
        if self.pasted and self.claims["exp"] <= now:
            self.problem = "token: the pasted token has expired; paste a new one in envoy.token"
            return False
        return True

    def reject(self):
        """The Envoy refused the token even after a fresh check_jwt."""
        self.rejected = True

    # -- protecting the account (guard.py) -----------------------------------------------------

    def login_wait(self, now):
        """Seconds before the next cloud login is allowed (0: now); never more than a day."""
        if self.login_at is None:
            return _guard().login_wait(self, now)
        return max(0, min(DAY_S, self.login_at - int(now)))  # the guard's longest back-off

    def restart_allowed(self, now, every_s=_RESTART_EVERY_S):
        """May the board restart for a login now? Not twice within every_s, whatever happens at
        boot (no Wi-Fi, no time): a restart is cheap, a restart loop is not. Recorded in
        cloud.json; when the flash refuses it, no restart (it could repeat unrecorded)."""
        log = self._log if self._log is not None else _guard().record(self)
        t = self.clock(now)
        if t - every_s < log["restart"] <= t:
            return False
        log["restart"] = t
        return self.save_log(t)

    def clock(self, now):
        """The account guard's time (see guard.py): the clock's (now), unless it is behind the
        login record's own or doubted; then the record's plus the uptime since it was read."""
        log = self._log
        t = log["clock"] + max(0, int(uptime() - self._read_at))  # uptime: no ticks wrap
        now = int(now)
        if is_set(now) and now < t - _CLOCK_SLACK_S:  # the clock went back: doubted
            if t >= log["doubt"]:  # caught now: the attempts' ages are unknown, count them now
                log["attempts"] = [t for _ in log["attempts"]]
                log["doubt"] = t + DAY_S
                self.save_log(t)  # so that the next boot's clock cannot undo it
            log["doubt"] = t + DAY_S
        if not is_set(now) or now < t or t < log["doubt"]:
            return t
        return now

    def save_log(self, t):
        """The login record to flash, with the guard's time t; False when the flash refused."""
        self._log["clock"], self._read_at = t, uptime()
        return store.save(self.cloud_file, self._log)

    def logins_today(self, now):
        """Cloud logins in the last 24 hours."""
        return _guard().logins_today(self, now)

    def failures(self):
        return _guard().failures(self)

    def renew(self, now, serial, fetch):
        """One cloud attempt, if allowed: see account.renew."""
        return _account().renew(self, now, serial, fetch)

    def fresh_token_rejected(self, now):
        """A token just fetched was refused by the Envoy: count its login as a failure."""
        _account().fresh_token_rejected(self, now)

    def done(self):
        """Unload the cloud code, the account guard and the JWT reader until the next need."""
        unload("firmware.account", "firmware.guard", "firmware.jwt")


def _guard():
    from firmware import guard

    return guard


def _account():
    from firmware import account

    return account
