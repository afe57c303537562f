# The supervisor. Check the config, claim the relay OFF, then loop forever: keep Wi-Fi, the clock,
# the token and the Envoy session alive, read net power, decide, switch, count, report. The loop
# never exits on an exception: it logs it, switches the relay OFF and retries with back-off.
import gc

from firmware import clock, console, store
from firmware import control as ctl
from firmware.boost import Boost
from firmware.compat import mem_alloc, print_exception, unload
from firmware.energy import Energy
from firmware.envoy import AuthError, Envoy, NoNetPower, PinMismatch
from firmware.heater import Heater
from firmware.tokens import TokenKeeper

STATE_FILE = "state.json"
WATCHDOG_S = 120  # covers the slowest step: a cloud login (two TLS handshakes and DNS)
SUMMARY_S = 60
SAVE_S = 3600
ERROR_STREAK = 5  # this many failed polls in a row: start again from /info and /ivp/meters
NO_CT_RETRY_S = 3600
PIN_RETRY_S = 300
RECHECK_S = 60  # a 401 this soon after a successful re-check means the token is refused
CRASH_PAUSE_S = 30
ENVOY_TIMEOUT_S = 10  # connect and read; never more than a third of stale_s (see __init__)
CLOUD_TIMEOUT_S = 15

# Reasons beyond control.py's, for the relay lines and the summary.
MANUAL_ON = "manual-on"
MANUAL_OFF = "manual-off"
BOOST = "boost"
WIFI_DOWN = "wifi-down"
ENVOY_DOWN = "envoy-down"
NO_TOKEN = "no-token"
NO_CT = "no-ct"
PIN = "pin-mismatch"
ERROR = "internal-error"

current = None  # the running Diverter, for the REPL helpers in diag.py


class Diverter:
    def __init__(self, cfg, board):
        self.cfg = cfg
        self.board = board
        c = cfg["control"]
        up = board.uptime()
        self.poll_s = c["poll_s"]
        self.control = ctl.Control(c, up)
        saved = store.load(STATE_FILE)
        saved = saved if type(saved) is dict else {}
        self.heater = Heater(cfg["heater"]["power_w"], saved.get("learned_w"))
        self.energy = Energy(saved.get("energy"))
        b = cfg["boost"]
        self.boost = Boost(b["min_kwh"], clock.parse_window(b["window"]) if b["window"] else None)
        self.tokens = TokenKeeper(cfg["envoy"], cfg["enlighten"])
        from firmware.urls import split_host

        host, port = split_host(cfg["envoy"]["host"])
        # A blocked request holds the loop, and with it the relay: keep it well under stale_s.
        timeout = min(ENVOY_TIMEOUT_S, max(2, c["stale_s"] / 3))
        self.envoy = Envoy(host, port, cfg["envoy"]["pin"], board.timeout(timeout))
        self.serial = cfg["envoy"]["serial"] or None
        self.net = None  # last net power, W, + import
        self.stamp = None  # the Envoy's timestamp of that reading
        self.fresh_at = None  # uptime when the reading last changed
        self.problem = None  # (reason, text) while there is no data
        self.reason = "boot"
        self.override = None  # MANUAL_ON or MANUAL_OFF
        self.override_until = None
        self.boosting = False
        self.clock_ok = False
        self.errors = 0
        self.next_envoy = 0
        self.next_wifi = 0
        self.next_clock = 0
        self.next_summary = up + SUMMARY_S
        self.next_minute = 0
        self.next_save = up + SAVE_S
        self.next_token_check = 0
        self.token_day = None
        self.rechecked_at = None
        self.last_account = up
        self.poll_alloc = None  # Python-heap bytes one poll allocated (last poll)
        console.set_clock(self.clock_text)

    # -- time --------------------------------------------------------------------------------

    def local(self):
        c = self.cfg["clock"]
        return clock.local(self.board.now(), c["utc_offset_min"], c["dst"])

    def clock_text(self):
        return clock.hms(self.local()) if self.clock_ok else None

    def _clock(self, up):
        if up < self.next_clock:
            return
        ok = self.board.sync_clock()
        if ok:
            if not self.clock_ok:
                local = self.local()
                console.log(
                    "clock: set by NTP, %s %s local" % (clock.date(local), clock.hms(local))
                )
            self.clock_ok = True
            self.next_clock = up + 86400
            self.energy.new_day(clock.day_number(self.local()))
        else:
            if self.clock_ok:
                self.next_clock = up + 300
                return  # keep the time we have; the RTC runs on
            self._problem(
                None,
                "clock: not set (NTP failed); no cloud login and no boost "
                "until it is; retrying in 5 min",
            )
            self.next_clock = up + 300

    # -- problems and the relay ----------------------------------------------------------------

    def _problem(self, reason, text):
        """Report a problem once (until it changes). reason: the relay reason while it lasts."""
        if self.problem is None or self.problem[1] != text:
            console.problem(text)
        self.problem = (reason, text)
        if reason is not None:
            self.fresh_at = None  # no data while this lasts: the relay goes OFF now

    def _clear_problem(self):
        if self.problem is not None:
            console.log("ok: recovered (%s)" % (self.problem[0] or self.problem[1].split(":")[0]))
            self.problem = None

    def set_relay(self, on, reason, detail=""):
        up = self.board.uptime()
        if on != self.board.relay_on:
            before = self.net
            self.board.relay(on)
            self.control.switched(up)
            self.heater.switched(up, on, before)
            net = "" if self.net is None else " net_w=%d" % self.net
            console.log(
                "relay=%s reason=%s%s%s"
                % ("on" if on else "off", reason, " " + detail if detail else "", net)
            )
        self.reason = reason

    def age(self, up):
        return None if self.fresh_at is None else up - self.fresh_at

    def _decide(self, up):
        age = self.age(up)
        relay = self.board.relay_on
        if self.override == MANUAL_OFF:
            return False, MANUAL_OFF, ""
        if self.override == MANUAL_ON:
            if up < self.override_until:
                return True, MANUAL_ON, "left_min=%d" % ((self.override_until - up + 59) // 60)
            self.override = None
            console.log("manual: the forced ON time is over; back to auto")
        fresh = self.net is not None and age is not None and age <= self.control.stale_s
        self.boosting = (
            fresh
            and self.clock_ok
            and self.boost.enabled()
            and self.boost.active(self.local(), self.energy.today_wh, self.energy.yesterday_wh)
        )
        if self.boost.note:
            console.log(self.boost.note)
            self.boost.note = None
        if self.boosting and self.heater.drawing is not False:
            if relay or up - self.control.changed_at >= self.control.min_off:
                return True, BOOST, "to_go_kwh=%.2f" % (self.boost.remaining_wh / 1000)
        on, reason = self.control.decide(up, self.net, age, relay, self.heater.power_w)
        if reason in (ctl.NO_DATA, ctl.STALE) and self.problem and self.problem[0]:
            reason = self.problem[0]
        if on == relay and reason not in (ctl.STALE, ctl.NO_DATA):
            return on, reason, ""
        return on, reason, self.control.describe(reason, up, self.net, age, self.heater.power_w)

    # -- the token -----------------------------------------------------------------------------

    def _renew(self, up, why):
        """Try a cloud login now if the account allows it. True when a new token arrived."""
        now = self.board.now()
        if not clock.is_set(now):
            self._problem(
                NO_TOKEN,
                "token: needed (%s) but the clock is not set, so the cloud's "
                "certificate cannot be checked; not logging in" % why,
            )
            return False
        wait = self.tokens.login_wait(now)
        if wait:
            if self.tokens.token is None or self.tokens.rejected:
                self._problem(
                    NO_TOKEN,
                    "token: needed (%s); next cloud login allowed in %d min "
                    "(protecting the account)" % (why, (wait + 59) // 60),
                )
            return False
        console.log("token: logging in to Enlighten (%s)" % why)
        self.envoy.close()  # one TLS connection at a time
        gc.collect()
        self.board.wdt_feed()
        from firmware import enlighten

        cloud = self.cfg["enlighten"]
        timeout = self.board.timeout(CLOUD_TIMEOUT_S)
        line = self.tokens.renew(
            now,
            self.serial or self.envoy.serial,
            lambda serial: enlighten.get_token(cloud, serial, self.board.wdt_feed, timeout),
        )
        self.board.wdt_feed()
        unload("firmware.enlighten")  # back in a year or so; its RAM is better used until then
        if self.tokens.problem:
            self._problem(
                NO_TOKEN if self.tokens.token is None or self.tokens.rejected else None, line
            )
            return False
        console.log(line)
        self.token_day = None  # show the days left again
        self.next_minute = 0
        return True

    def _token_for_envoy(self, up):
        now = self.board.now()
        why = self.tokens.renewal_due(now)
        if why and (self.tokens.token is None or self.tokens.rejected):
            self._renew(up, why)
        if not self.tokens.usable(now):
            if self.tokens.problem:
                self._problem(NO_TOKEN, self.tokens.problem)
            raise _NoToken()
        return self.tokens.token

    def _token_housekeeping(self, up):
        # Renew ahead of time, while the heater is off (a login blocks the loop for seconds).
        if up < self.next_token_check:
            return
        self.next_token_check = up + 60  # only arithmetic; logins themselves are rate-limited
        if not self.clock_ok or self.board.relay_on or self.tokens.token is None:
            return
        why = self.tokens.renewal_due(self.board.now())
        if why and self._renew(up, why):
            self.envoy.reset()  # the next poll opens a session with the new token

    def _show_token_days(self, day):
        if self.tokens.token is None or day == self.token_day:
            return
        self.token_day = day
        exp = self.tokens.claims["exp"]
        console.log(
            "token: %s, %.0f days left (expires %s)%s"
            % (
                self.tokens.kind(),
                self.tokens.days_left(self.board.now()),
                clock.date(exp),
                ", pasted" if self.tokens.pasted else "",
            )
        )

    # -- the Envoy -----------------------------------------------------------------------------

    def _connect(self, up):
        e = self.envoy
        if e.version is None:
            e.probe()
            console.log(
                "envoy: firmware %s serial %s, %s"
                % (e.software, e.serial, "token needed" if e.needs_token() else "no token needed")
            )
            if self.serial and e.serial and self.serial != e.serial:
                console.problem(
                    "envoy: config says serial %s but the Envoy says %s" % (self.serial, e.serial)
                )
        if e.needs_token():
            e.login(self._token_for_envoy(up))
            self.tokens.unproven = False
        e.discover()
        console.log("envoy: net power from %s" % e.describe())

    def _poll(self, up):
        if up < self.next_envoy:
            return
        try:
            if not self.envoy.ready():
                self._connect(up)
            net, stamp = self.envoy.read()
        except _NoToken:
            self.envoy.close()
            self.next_envoy = up + 60
            return
        except AuthError as err:
            self._auth_refused(up, err)
            return
        except PinMismatch as err:
            self._problem(PIN, "envoy: %s" % err)
            self.envoy.reset()
            self.next_envoy = up + PIN_RETRY_S
            return
        except NoNetPower as err:
            self._problem(NO_CT, "envoy: %s. Retrying in an hour." % err)
            self.envoy.reset()
            self.next_envoy = up + NO_CT_RETRY_S
            return
        except Exception as err:  # network, HTTP, broken replies: transient
            self.errors += 1
            self._problem(ENVOY_DOWN, "envoy: %s" % _why(err))
            self.envoy.close()
            if self.errors >= ERROR_STREAK:
                self.envoy.reset()
            self.next_envoy = up + min(60, 2 ** min(self.errors, 6))
            return
        self.errors = 0
        if stamp is None or stamp != self.stamp:
            self.stamp = stamp
            self.fresh_at = up
        self.net = net
        self._clear_problem()
        event = self.heater.observe(up, net, self.board.relay_on)
        if event:
            self._heater_event(event)

    def _auth_refused(self, up, err):
        # The Envoy said 401/403: re-run check_jwt once; if that fails too, the token is refused.
        self.envoy.close()
        if self.rechecked_at is None or up - self.rechecked_at > RECHECK_S:
            self.rechecked_at = up
            try:
                self.envoy.login(self.tokens.token or "")
                self.tokens.unproven = False
                console.log("envoy: %s; check_jwt accepted the token again" % err)
                return
            except AuthError:
                pass
            except Exception as e:
                self._problem(ENVOY_DOWN, "envoy: %s" % _why(e))
                self.next_envoy = up + 5
                return
        if self.tokens.unproven:
            self.tokens.fresh_token_rejected(self.board.now())
        else:
            self.tokens.reject()
        self._problem(NO_TOKEN, "envoy: the token was refused (%s); a new one is needed" % err)
        self.envoy.reset()  # start again from /info: a firmware update may be the cause
        self.next_envoy = up

    def _heater_event(self, event):
        h = self.heater
        if event == "tank-hot":
            console.log(
                "heater: tank hot (thermostat open): step_w=%s of %d W; no energy counted"
                % ("?" if h.last_step is None else "%d" % h.last_step, h.power_w)
            )
            if self.boosting:
                self.boost.tank_hot()
        elif event == "learned":
            console.log("heater: learned power_w=%d from two consistent steps" % h.learned_w)
        else:
            console.log(
                "heater: heating step_w=%s" % ("?" if h.last_step is None else "%d" % h.last_step)
            )

    # -- accounting and reports ----------------------------------------------------------------

    def _account(self, up):
        dt = up - self.last_account
        self.last_account = up
        age = self.age(up)
        if not self.board.relay_on or self.heater.drawing is not True or age is None:
            return
        if age > self.control.stale_s:
            return
        wh = self.energy.add(dt, self.heater.power_w, self.net)
        if self.boosting:
            self.boost.delivered(wh)

    def _save(self):
        store.save(STATE_FILE, {"energy": self.energy.state(), "learned_w": self.heater.learned_w})

    def _housekeeping(self, up):
        self._token_housekeeping(up)
        if up < self.next_minute:
            return  # the rest needs a minute's resolution, not a poll's
        self.next_minute = up + 60
        if self.clock_ok:
            day = clock.day_number(self.local())
            if self.energy.new_day(day):
                console.log(
                    "energy: new day; yesterday_kwh=%.2f" % (self.energy.yesterday_wh / 1000)
                )
                self._save()
            self._show_token_days(day)
        if up >= self.next_save:
            self.next_save = up + SAVE_S
            self._save()
            console.log(self.health(up))
        if up >= self.next_summary:
            self.next_summary = up + SUMMARY_S
            console.log(self.summary(up))

    def health(self, up):
        """Hourly: is the board itself well? The heap in use right after a full collection must
        not grow from hour to hour."""
        gc.collect()
        return "health uptime_h=%d heap_used=%d heap_free=%d envoy_handshakes=%d poll_alloc=%s" % (
            up // 3600,
            mem_alloc(),
            gc.mem_free() if hasattr(gc, "mem_free") else -1,
            self.envoy.handshakes(),
            self.poll_alloc,
        )

    def summary(self, up):
        age = self.age(up)
        days = self.tokens.days_left(self.board.now()) if self.clock_ok else None
        return (
            "summary net_w=%s relay=%s reason=%s today_kwh=%.2f grid_kwh=%.2f token_days=%s"
            " age_s=%s"
            % (
                "-" if self.net is None or age is None else "%d" % self.net,
                "on" if self.board.relay_on else "off",
                self.reason,
                self.energy.today_wh / 1000,
                self.energy.today_grid_wh / 1000,
                "-" if days is None else "%.0f" % days,
                "-" if age is None else "%d" % age,
            )
        )

    # -- the loop ------------------------------------------------------------------------------

    def _wifi(self, up):
        if self.board.wifi_up():
            if self.problem and self.problem[0] == WIFI_DOWN:
                self._clear_problem()
            return True
        # No data can come: OFF now, before a reconnect that may block for seconds.
        self.fresh_at = None
        if self.board.relay_on:
            self.set_relay(False, WIFI_DOWN)
        self.envoy.close()
        if up >= self.next_wifi:
            w = self.cfg["wifi"]
            if self.board.wifi_connect(w["ssid"], w["password"]):
                console.log("wifi: connected")
                if self.problem and self.problem[0] == WIFI_DOWN:
                    self._clear_problem()
                return True
            self.next_wifi = up + 30
        self._problem(
            WIFI_DOWN, "wifi: down (%s); relay OFF, reconnecting" % self.board.wifi_problem()
        )
        return False

    def step(self):
        up = self.board.uptime()
        if self._wifi(up):
            self._clock(up)
            before = mem_alloc()
            self._poll(up)
            self.poll_alloc = mem_alloc() - before
        on, reason, detail = self._decide(up)
        self.set_relay(on, reason, detail)
        self._account(up)
        self._housekeeping(up)

    def loop(self):
        self.board.wdt_start(WATCHDOG_S)
        pause = 0
        while True:
            started = self.board.uptime()
            try:
                self.step()
                pause = 0
            except MemoryError:
                self._fail("out of memory")
                pause = 5
            except Exception as e:
                print_exception(e)
                self._fail("%s: %s" % (type(e).__name__, e))
                pause = min(60, pause * 2 or 1)
            self.board.wdt_feed()
            gc.collect()
            spent = self.board.uptime() - started
            self.board.sleep_ms(max(0, (self.poll_s + pause - spent) * 1000))

    def _fail(self, what):
        was_on = self.board.relay_on
        self.board.relay(False)  # first, and without allocating: memory may be what ran out
        up = self.board.uptime()
        if was_on:
            self.control.switched(up)
            self.heater.switched(up, False, None)
        self.reason = ERROR
        self.fresh_at = None
        self.envoy.reset()
        console.problem("error: %s; relay=off reason=%s, retrying" % (what, ERROR))

    def stop(self):
        """Relay OFF, the Envoy connection closed, the energy counters saved."""
        self.board.relay(False)
        self.control.switched(self.board.uptime())
        self.envoy.close()
        self._save()


class _NoToken(Exception):
    pass


def _why(err):
    # OSError args are (errno,) or (code, "MBEDTLS_..."); keep the message short.
    import errno

    if isinstance(err, OSError) and err.args and type(err.args[0]) is int:
        code = err.args[0]
        names = {
            errno.ECONNREFUSED: "connection refused",
            errno.ETIMEDOUT: "timed out",
            errno.ECONNRESET: "connection reset",
            errno.EHOSTUNREACH: "host unreachable",
        }
        return names.get(code, "network error %s" % (err.args,))
    text = str(err)
    return text if text else type(err).__name__


def start(path="config.json"):
    """Check the config and build the Diverter, or return None (the problems are printed)."""
    from firmware import config

    cfg, errors, warnings = config.load(path)
    unload("firmware.config", "firmware.pins", "firmware.strictjson")  # checked once
    for w in warnings:
        console.log("config: warning: " + w)
    if errors:
        for e in errors:
            console.problem("config: " + e)
        console.log(
            "config: %d problem(s): relay stays OFF and the cloud is not contacted. "
            "Fix config.json, then reset." % len(errors)
        )
        return None
    from firmware.board import Board, remember_relay

    board = Board(cfg["heater"]["relay_pin"], cfg["heater"]["active_high"])
    remember_relay(cfg["heater"])  # for boot.py, should config.json break later
    why = board.safe_mode()
    if why:
        console.log("safe mode: %s; the diverter is not started, the REPL is yours" % why)
        return None
    d = Diverter(cfg, board)
    console.log(
        "diverter: heater %d W on GPIO%d, envoy %s, relay OFF"
        % (cfg["heater"]["power_w"], cfg["heater"]["relay_pin"], cfg["envoy"]["host"])
    )
    console.log(d.tokens.load())
    return d


def resume():
    """Run (or resume, after Ctrl-C) the diverter loop."""
    try:
        current.loop()
    except KeyboardInterrupt:
        # On the unix port a Ctrl-C can land inside gc.collect() and leave the collector marked
        # busy, so that every allocation fails; one complete collection clears that.
        gc.collect()
        current.board.relay(False)
        current.board.wdt_relax()
        console.log("stopped: relay OFF. Resume: from firmware import diag; diag.run()")
        current.stop()


def run(path="config.json"):
    """main.py: start and loop; after an unexpected crash, pause (so Ctrl-C reaches the REPL)
    and reset."""
    global current
    try:
        current = start(path)
        if current is not None:
            resume()
    except Exception as e:
        print_exception(e)
        console.problem(
            "fatal: %r; relay OFF, restarting in %d s (Ctrl-C for the REPL)" % (e, CRASH_PAUSE_S)
        )
        board = current.board if current else None
        if board:
            board.relay(False)
            board.wdt_relax()
        from firmware.compat import sleep_ms

        sleep_ms(CRASH_PAUSE_S * 1000)
        if board:
            board.reset()
