# The Envoy token on the loop's terms: the one kept by tokens.TokenKeeper (flash, account guard),
# and the next cloud login. Logins run at boot, before the diverter loads (bootlogin.py): when one
# falls due here (no usable token, the Envoy refused it, or a renewal ahead of time while the
# heater is off), `restart` says why and the app restarts the board, at most as often as the
# account guard allows a login. Problems go to the link's console line and the heater's reason.
from firmware import clock, store
from firmware.reasons import NO_TOKEN
from firmware.tokens import TokenKeeper


class NoToken(Exception):
    """No usable token now; the reason is on the console."""


class Renewal:
    def __init__(self, cfg, board, link, keeper=None):
        self.board = board
        self.link = link
        self.cloud = cfg["enlighten"]
        self.serial = cfg["envoy"]["serial"] or None
        self.keeper = keeper or TokenKeeper(cfg["envoy"], cfg["enlighten"])
        self._loaded = keeper is not None
        self.next_check = 0
        self.shown_day = None
        self.restart = None  # why the board should restart for a cloud login, when it should

    def load(self):
        """The token kept on flash (or pasted), unless the boot login's keeper came with it: a
        line for the console."""
        k = self.keeper
        if self._loaded and k.token is not None:
            return k.line()
        line = k.load()
        k.done()
        return line

    def read_login_record(self):
        """At boot, once the clock is set: the account guard's verdict read while the heap is
        clean, so that a renewal falling due mid-run is decided without loading the guard."""
        k = self.keeper
        now = self.board.now()
        if not k.pasted and k.login_at is None and clock.is_set(now):
            k.login_wait(now)
            k.done()

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
        # A refused token is not sent again while a new one cannot be had (a pasted one is: the
        # cloud cannot replace it, and the Envoy may have refused it while it restarted).
        if not k.usable(now) or (k.rejected and not k.pasted):
            if k.problem:
                self.link.report(NO_TOKEN, k.problem)
            raise NoToken()
        return k.token

    def proven(self):
        self.keeper.unproven = False

    def refused(self, now):
        """The Envoy refused the token even after a fresh check_jwt: it goes from flash too, so
        that the login at the next boot gets a new one."""
        k = self.keeper
        if k.unproven:
            k.fresh_token_rejected(now)
            k.done()
        else:
            k.reject()
        if not k.pasted:
            store.remove(k.token_file)

    def housekeeping(self, up, heater_on):
        # Renew ahead of time, while the heater is off (a login blocks the loop for seconds).
        if up < self.next_check:
            return
        self.next_check = up + 60  # only arithmetic; logins themselves are rate-limited
        k = self.keeper
        if not self.link.clock_ok or k.token is None:
            return
        now = self.board.now()
        why = k.renewal_due(now)
        # A renewal waits for the heater to stop, unless the token would run out first.
        if why and (not heater_on or k.urgent(now)):
            self._renew(why)

    def days_line(self, day):
        """A line with the days left, once a day, or None."""
        k = self.keeper
        if k.token is None or day == self.shown_day:
            return None
        self.shown_day = day
        return "token: %s, %s left (expires %s)%s" % (
            k.kind(),
            k.left_text(self.board.now()),
            clock.date(k.claims["exp"]),
            ", pasted" if k.pasted else "",
        )

    def _renew(self, why):
        """A cloud login is due: ask for a restart if the account allows a login now."""
        k = self.keeper
        report = self.link.report
        now = self.board.now()
        if not clock.is_set(now):
            report(
                NO_TOKEN,
                "token: needed (%s) but the clock is not set, so the cloud's certificate cannot "
                "be checked; not logging in" % why,
            )
            return
        try:
            wait = k.login_wait(now)
            if wait:
                if k.token is None or k.rejected:
                    report(
                        NO_TOKEN,
                        "token: needed (%s); next cloud login allowed in %d min "
                        "(protecting the account)" % (why, (wait + 59) // 60),
                    )
            elif k.restart_allowed(now):
                self.restart = why
        finally:
            k.done()
