# The cloud login, at boot and before the diverter loads. A login takes about a third of an ESP32's
# Python heap for a few seconds (the Enphase roots, a TLS context, the replies, their code), and
# later it would land in a heap the running diverter has fragmented. So it runs here, in a clean
# heap, and a login that falls due while the diverter runs restarts the board (the heater is off
# then; about once a year). Everything here is unloaded before the diverter starts.
import gc

from firmware import clock, console
from firmware.compat import unload
from firmware.tokens import TokenKeeper

CLOUD_TIMEOUT_S = 15


def run(cfg, board, spare=None):
    """Log in to Enlighten now if a token is due and the account allows it. Any failure is said
    on the console and left to the diverter (it reports, retries and restarts for the next
    login when one is allowed). Returns the token keeper, for the diverter to take over: a new
    token that flash could not hold lives on in RAM. spare: http.spare_parts()'s, for a probe."""
    k = TokenKeeper(cfg["envoy"], cfg["enlighten"])
    try:
        k.load()
        now = board.now()
        if k.token is not None and clock.is_set(now) and not k.renewal_due(now):
            return k  # the usual boot: a good token, and the time kept through a soft reset
        if not _online(cfg, board):
            return k  # the diverter says why, and asks again when it can
        why = k.renewal_due(board.now())
        if why:
            _login(k, cfg, board, why, spare)
        return k
    finally:
        k.done()
        unload("firmware.enlighten", "firmware.roots", "firmware.envoy_setup")
        gc.collect()


def _online(cfg, board):
    w = cfg["wifi"]
    if not board.wifi_up() and not board.wifi_connect(w["ssid"], w["password"]):
        return False  # the diverter says why, and reconnects
    return clock.is_set(board.now()) or board.sync_clock()


def _login(k, cfg, board, why, spare):
    now = board.now()
    if k.login_wait(now):
        return  # protecting the account: the diverter says until when
    serial = cfg["envoy"]["serial"] or (k.claims or {}).get("aud") or _serial(cfg, board, spare)
    if not serial:
        return
    console.log("token: logging in to Enlighten (%s)" % why)
    from firmware.compat import tls_context, trust
    from firmware.roots import ca_certificates

    tls = tls_context()
    try:
        trust(tls[0], ca_certificates(cfg["enlighten"]["ca_file"]))
    except ValueError as e:  # a root missing, over its cap or not a certificate: no login
        console.problem("token: no login: %s (enlighten.ca_file, or firmware/certs)" % (e,))
        return
    from firmware import enlighten

    cloud, feed = cfg["enlighten"], board.wdt_feed
    timeout = board.timeout(CLOUD_TIMEOUT_S)

    def fetch(serial, first, another):
        return enlighten.get_token(cloud, serial, feed, timeout, tls, first, another)

    line = k.renew(now, serial, fetch)
    if line:
        (console.problem if k.problem else console.log)(line)


def _serial(cfg, board, spare):
    # The Envoy's serial, for the token request: from its /info (no auth), over HTTPS and
    # pinned as always. None when it does not answer (the diverter says why).
    from firmware.envoy import Envoy
    from firmware.urls import split_host

    host, port = split_host(cfg["envoy"]["host"])
    e = Envoy(host, port, cfg["envoy"]["pin"], board.timeout(10), spare=spare)
    try:
        e.probe()
        return e.serial
    except Exception as err:  # the diverter reports the Envoy's problems
        console.log("token: the Envoy's serial is needed for a login (%s)" % err)
        return None
    finally:
        e.reset()
        e = None
        # The probe's code is a quarter of what a login needs: gone before it; the diverter
        # loads the client again in the heap the login leaves.
        unload("firmware.envoy", "firmware.envoy_setup", "firmware.envoy_parse")
        gc.collect()
