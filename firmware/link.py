# The link to the data: keeps Wi-Fi, the clock, the token and the Envoy session alive and yields
# readings of net grid power, or a Problem saying why there are none. Network trouble is never
# fatal here: it is reported once, the session is closed, and the next try waits (back-off).
# On a site with a home battery, each reading carries the battery's power too (battery.py).
from firmware import clock, console
from firmware.compat import const, mem_alloc, unload
from firmware.envoy import Envoy
from firmware.envoy_parse import AuthError, Glitch, NoNetPower, PinMismatch
from firmware.reasons import ENVOY_DOWN, NO_CT, PIN, WIFI_DOWN, why
from firmware.renewal import NoToken, Renewal

# one whole request (connect, handshake, reply); see Link for the limit
_ENVOY_TIMEOUT_S = const(10)
ERROR_STREAK = 5  # this many failed polls in a row: start again from /info and /ivp/meters
_NO_CT_RETRY_S = const(3600)
PIN_RETRY_S = 300
_RECHECK_PIN_S = const(5)

_SETUP = "firmware.link_setup"


class Reading:
    """The last net grid power (W, + import), the Envoy's timestamp of it, and the uptime at
    which it last changed (None: no usable data now)."""

    def __init__(self):
        self.net_w = None
        self.stamp = None
        self.fresh_at = None
        self.last_at = None  # uptime of the last fresh reading, kept while the data is down
        self.battery = None  # a battery.Battery on sites with a home battery

    def age(self, up):
        return None if self.fresh_at is None else up - self.fresh_at

    @property
    def house_w(self):
        """The house's own net power, where the heater's steps show: grid + battery (+ import)."""
        b = self.battery
        if b is None or b.w is None or b.missing is not None or self.net_w is None:
            return self.net_w
        return self.net_w + b.w


class Problem:
    """reason: the heater's reason while it lasts (None: it does not stop the data); text: the
    console line."""

    def __init__(self, reason, text):
        self.reason = reason
        self.text = text


class Link:
    def __init__(self, cfg, board, keeper=None, spare=None):
        self.board = board
        self.wifi = cfg["wifi"]
        self.zone = cfg["clock"]
        from firmware.urls import split_host

        host, port = split_host(cfg["envoy"]["host"])
        split_host = None
        unload("firmware.urls")  # needed once: its code would stay in the heap for good
        # A slow reply holds the loop, and with it the heater. A poll makes up to two requests,
        # so each gets a quarter of stale_s at most; 3 s at least leaves an ESP32 time for a
        # reconnect with its TLS handshake (about a second).
        timeout = min(_ENVOY_TIMEOUT_S, max(3, cfg["control"]["stale_s"] / 4))
        self.envoy = Envoy(host, port, cfg["envoy"]["pin"], board.timeout(timeout), spare=spare)
        self.tokens = Renewal(cfg, board, self, keeper)
        self.battery_cfg = (cfg.get("battery"), cfg["control"])
        self.next_battery = 3600  # the first connection looks for a battery; the next, in an hour
        self.reading = Reading()
        self.problem = None
        self.clock_ok = False
        self.errors = 0
        self.poll_alloc = None  # Python-heap bytes the last poll allocated
        self.next_envoy = self.next_wifi = self.next_clock = 0
        self.rechecked_at = None
        self.refused_since = None  # uptime of the first refusal of the token in a row

    # -- problems --------------------------------------------------------------------------------

    def report(self, reason, text):
        """A problem, shown once (until its text changes). A reason stops the data now."""
        if self.problem is None or self.problem.text != text:
            console.problem(text)
        self.problem = Problem(reason, text)
        if reason is not None:
            self.reading.fresh_at = None

    def _clear(self, reason=None):
        p = self.problem
        if p is not None and (reason is None or p.reason == reason):
            console.log("ok: recovered (%s)" % (p.reason or p.text.split(":")[0]))
            self.problem = None

    def why(self):
        return self.problem.reason if self.problem else None

    # -- time ------------------------------------------------------------------------------------

    def local(self):
        """Local wall-clock seconds, or None while the clock is not set."""
        if not self.clock_ok:
            return None
        return clock.local(self.board.now(), self.zone["utc_offset_min"], self.zone["dst"])

    def _clock(self, up, heater_on):
        # NTP looks its server's name up, which lwIP may take seconds over with no deadline of
        # ours: only while the heater is off (its next pass off, if due now).
        if up < self.next_clock or heater_on:
            return
        self.next_clock = up + 300
        if self.board.sync_clock():
            if not self.clock_ok:
                self.clock_ok = True
                local = self.local()
                console.log(
                    "clock: set by NTP, %s %s local" % (clock.date(local), clock.hms(local))
                )
            self.next_clock = up + 86400
        elif not self.clock_ok:
            self.report(
                None,
                "clock: not set (NTP failed); no cloud login and no boost until it is; "
                "retrying in 5 min",
            )

    # -- the pass --------------------------------------------------------------------------------

    def poll(self, up, heater_on):
        """One pass: True when a reading arrived. With Wi-Fi down and the heater on it returns at
        once, so that the heater is OFF before a reconnect that may block for seconds."""
        if not self._wifi(up, heater_on):
            return False
        self._clock(up, heater_on)
        self.tokens.housekeeping(up, heater_on)
        if up < self.next_envoy:
            return False
        before = mem_alloc()
        ok = self._poll(up)
        self.poll_alloc = mem_alloc() - before
        if ok and up >= self.next_battery:  # a battery's SoC each minute, or a look for one
            self.look_for_battery(up)
        return ok

    def look_for_battery(self, up):
        """After a connection (startup.py: the first, before the diverter loads), then each
        minute on a battery site (its SoC) or each hour elsewhere. The battery's code loads only
        for a battery seen, now or before."""
        from firmware import ensemble

        r = self.reading
        seen, conclusive = ensemble.look(self.envoy, r.battery)
        if seen or r.battery is not None:
            ensemble.settle(self, seen, conclusive)
        self.next_battery = up + (ensemble.SOC_S if r.battery else ensemble.LOOK_S)
        unload("firmware.ensemble")

    def _wifi(self, up, heater_on):
        b = self.board
        if b.wifi_up():
            self._clear(WIFI_DOWN)
            return True
        self.reading.fresh_at = None
        self.envoy.close()
        if not heater_on and up >= self.next_wifi:
            if b.wifi_connect(self.wifi["ssid"], self.wifi["password"]):
                console.log("wifi: connected")
                self._clear(WIFI_DOWN)
                return True
            self.next_wifi = up + 30
        self.report(WIFI_DOWN, "wifi: down (%s); relay OFF, reconnecting" % b.wifi_problem())
        return False

    # -- the Envoy -------------------------------------------------------------------------------

    def _poll(self, up):
        e = self.envoy
        try:
            if not e.ready():
                _setup().connect(self, up)
            net, stamp = e.read()
        except NoToken:
            e.close()
            self.next_envoy = up + 60
            return False
        except AuthError as err:
            _setup().refused(self, up, err)
            return False
        except PinMismatch as err:
            # A new certificate met mid-run is judged by a probe soon (a firmware update
            # re-pins); one the probe refused waits.
            self._down(
                up, PIN, "envoy: %s" % err, _RECHECK_PIN_S if err.recheck else PIN_RETRY_S, True
            )
            return False
        except NoNetPower as err:
            self._down(up, NO_CT, "envoy: %s. Retrying in an hour." % err, _NO_CT_RETRY_S, True)
            return False
        except Glitch as err:
            # Known junk from the firmware: no reading this time, and no error either (no
            # reconnection); the data only ages, and stale data stops the heater as always.
            e.done()
            self.errors = 0
            self.report(None, "envoy: a bogus reading ignored (%s)" % err)
            return False
        except MemoryError:
            raise  # the loop's: it counts them, and a streak restarts the board
        except Exception as err:  # network, HTTP, broken replies: transient
            self.errors += 1
            wait = min(60, 2 ** min(self.errors, 6))
            self._down(up, ENVOY_DOWN, "envoy: %s" % why(err), wait, self.errors >= ERROR_STREAK)
            return False
        e.done()  # the setup code (probe, pin, meters) goes until the next connection
        unload(_SETUP)
        self.errors = 0
        self.refused_since = None
        r = self.reading
        if stamp is None or stamp != r.stamp:
            r.stamp = stamp
            r.fresh_at = r.last_at = up
        r.net_w = net
        if r.battery is not None:
            r.battery.power(up, e.battery_w)
        self._clear()
        return True

    def _down(self, up, reason, text, wait, reset):
        self.report(reason, text)
        if reset:
            self.envoy.reset()
        else:
            self.envoy.close()
        self.next_envoy = up + wait

    def restart(self):
        """Forget the Envoy session (after a new token, or an internal error)."""
        self.envoy.reset()
        self.next_envoy = 0


def _setup():
    # Connecting and a refused token: their code is loaded with the Envoy's setup, and goes
    # with it once the polls run.
    from firmware import link_setup

    return link_setup
