# The Envoy token on the loop's terms: the one kept by tokens.TokenKeeper (flash, account guard),
# a cloud login when none is usable, and renewal ahead of time while the heater is off (a login
# blocks the loop for seconds). Problems go to the link's console line and the heater's reason.
import gc

from firmware import clock, console
from firmware.compat import unload
from firmware.tokens import TokenKeeper

CLOUD_TIMEOUT_S = 15
NO_TOKEN = "no-token"


class NoToken(Exception):
    """No usable token now; the reason is on the console."""


class Renewal:
    def __init__(self, cfg, board, link):
        self.board = board
        self.link = link
        self.cloud = cfg["enlighten"]
        self.serial = cfg["envoy"]["serial"] or None
        self.keeper = TokenKeeper(cfg["envoy"], cfg["enlighten"])
        self.next_check = 0
        self.shown_day = None

    def load(self):
        return self.keeper.load()

    def token(self):
        return self.keeper.token

    def days_left(self):
        return self.keeper.days_left(self.board.now()) if self.link.clock_ok else None

    def for_envoy(self, up):
        """The token for check_jwt; a cloud login first if there is no usable one."""
        k = self.keeper
        now = self.board.now()
        why = k.renewal_due(now)
        if why and (k.token is None or k.rejected):
            self._renew(why)
        if not k.usable(now):
            if k.problem:
                self.link.report(NO_TOKEN, k.problem)
            raise NoToken()
        return k.token

    def proven(self):
        self.keeper.unproven = False

    def refused(self, now):
        """The Envoy refused the token even after a fresh check_jwt."""
        if self.keeper.unproven:
            self.keeper.fresh_token_rejected(now)
        else:
            self.keeper.reject()

    def housekeeping(self, up, heater_on):
        # Renew ahead of time, while the heater is off (a login blocks the loop for seconds).
        if up < self.next_check:
            return
        self.next_check = up + 60  # only arithmetic; logins themselves are rate-limited
        if not self.link.clock_ok or heater_on or self.keeper.token is None:
            return
        why = self.keeper.renewal_due(self.board.now())
        if why and self._renew(why):
            self.link.restart()  # the next poll opens a session with the new token

    def days_line(self, day):
        """A line with the days left, once a day, or None."""
        k = self.keeper
        if k.token is None or day == self.shown_day:
            return None
        self.shown_day = day
        return "token: %s, %.0f days left (expires %s)%s" % (
            k.kind(),
            k.days_left(self.board.now()),
            clock.date(k.claims["exp"]),
            ", pasted" if k.pasted else "",
        )

    def _renew(self, why):
        """A cloud login now, if the account allows it. True when a new token arrived."""
        k = self.keeper
        report = self.link.report
        now = self.board.now()
        if not clock.is_set(now):
            report(
                NO_TOKEN,
                "token: needed (%s) but the clock is not set, so the cloud's certificate cannot "
                "be checked; not logging in" % why,
            )
            return False
        wait = k.login_wait(now)
        if wait:
            if k.token is None or k.rejected:
                report(
                    NO_TOKEN,
                    "token: needed (%s); next cloud login allowed in %d min "
                    "(protecting the account)" % (why, (wait + 59) // 60),
                )
            return False
        console.log("token: logging in to Enlighten (%s)" % why)
        envoy = self.link.envoy
        envoy.close()  # one TLS connection at a time
        gc.collect()
        feed = self.board.wdt_feed
        feed()
        from firmware import enlighten

        timeout = self.board.timeout(CLOUD_TIMEOUT_S)
        cloud = self.cloud
        line = k.renew(
            now,
            self.serial or envoy.serial,
            lambda serial: enlighten.get_token(cloud, serial, feed, timeout),
        )
        feed()
        unload("firmware.enlighten")  # back in a year or so; its RAM is better used until then
        if k.problem:
            report(NO_TOKEN if k.token is None or k.rejected else None, line)
            return False
        console.log(line)
        self.shown_day = None  # show the days left again
        return True
