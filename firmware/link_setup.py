# The link's connection to the Envoy (probe, token, meters) and what follows a refused token:
# loaded with the Envoy's setup (envoy_setup.py) when a connection is made, unloaded once the
# polls run (link.py), so that their code costs no heap between connections.
from firmware import console
from firmware.compat import const
from firmware.envoy_parse import AuthError
from firmware.reasons import ENVOY_DOWN, NO_TOKEN, why

_RECHECK_S = const(60)  # a 401 this soon after a successful re-check means the token is refused
# A token is refused for good (removed, a cloud login) only when the Envoy has refused it for
# this long, checked each minute: an Envoy restarting (around 11 pm, or after an update) can
# refuse a good token for a while, and a needless login costs the account.
_REFUSED_S = const(180)


def connect(link, up):
    e = link.envoy
    if e.version is None:
        probe(link)
    if e.needs_token():
        token = link.tokens.for_envoy(up)
        if e.version is None:  # a cloud login came first: the Envoy session was dropped
            probe(link)
        e.login(token)
        link.tokens.proven()
    e.discover()
    console.log("envoy: net power from %s" % e.describe())
    link.next_battery = up + 5  # ensemble.look() once the setup code is gone


def probe(link):
    e = link.envoy
    e.probe()
    console.log(
        "envoy: firmware %s serial %s, %s"
        % (e.software, e.serial, "token needed" if e.needs_token() else "no token needed")
    )
    serial = link.tokens.serial
    if serial and e.serial and serial != e.serial:
        console.problem("envoy: config says serial %s but the Envoy says %s" % (serial, e.serial))


def refused(link, up, err):
    # The Envoy said 401/403: re-run check_jwt; the token is refused only when the Envoy
    # has kept refusing it for _REFUSED_S.
    e = link.envoy
    e.close()
    if link.rechecked_at is None or up - link.rechecked_at > _RECHECK_S:
        link.rechecked_at = up
        try:
            e.login(link.tokens.token() or "")
            link.tokens.proven()
            console.log("envoy: %s; check_jwt accepted the token again" % err)
            return
        except AuthError:
            pass
        except Exception as x:
            link._down(up, ENVOY_DOWN, "envoy: %s" % why(x), 5, False)
            return
    since = link.refused_since
    if since is None:
        since = link.refused_since = up
    if up - since < _REFUSED_S:
        link.report(
            NO_TOKEN,
            "envoy: the token was refused (%s); checking again each minute for %d min before"
            " getting a new one (an Envoy that is restarting can refuse it)"
            % (err, _REFUSED_S // 60),
        )
        e.reset()
        link.next_envoy = up + _RECHECK_S
        return
    link.refused_since = None
    link.tokens.refused(link.board.now())
    link.report(NO_TOKEN, "envoy: the token was refused (%s); a new one is needed" % err)
    e.reset()  # start again from /info: a firmware update may be the cause
    link.next_envoy = up  # the renewal decides what comes next (a restart to log in, a wait)
