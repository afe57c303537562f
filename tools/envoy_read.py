"""Read your Envoy from a PC with the firmware's own client, before flashing anything.

    python -m tools.envoy_read --host HOST[:PORT] [--token JWT | --config config.json]
                               [--pin HEX | --pin-file PATH]

Prints the firmware version, the meter used and net_w=<int> (+ import, - export). If the Envoy
cannot give net power it says why and exits with status 3; a certificate that is not the pinned
one, or plain HTTP where HTTPS is expected, exits with 4; other failures exit with 1.
With --config, the token is envoy.token, the one tools.token stored in .diverter/ (while it is
valid), or a new one from Enlighten through the board's account guard.
The certificate is checked as envoy.pin says (default tofu: shown, not checked, unless
--pin-file gives a copy of the board's envoy_pin.json), or as --pin says. Nothing is written
next to the Envoy's files: the pin stays the board's.
"""

import argparse
import sys
import time

from firmware import urls
from firmware.envoy import Envoy
from firmware.envoy_parse import AuthError, NoNetPower, PinMismatch
from tools import hostutil
from tools.hostutil import load_config
from tools.neterrors import explain, explain_cloud, trying

TIMEOUT_S = 5  # per request: an Envoy on the LAN answers within a second
CLOUD_TIMEOUT_S = 10  # per request: Enlighten's login takes a few seconds


def main(argv=None):  # noqa: C901 (the steps in order, each failure its own exit code)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", help="192.168.1.50 or host:port (default: envoy.host from --config)")
    p.add_argument("--token", help="an Envoy token (JWT)")
    p.add_argument(
        "--config", help="config.json: the host, and envoy.token or your Enlighten login"
    )
    hostutil.add_pin_options(p)
    args = p.parse_args(argv)
    cfg = None
    if args.config:
        cfg = load_config(args.config)
        if cfg is None:
            return 2
    host = args.host or (cfg and cfg["envoy"]["host"])
    if not host:
        p.error("give --host or --config")
    try:
        name, port = urls.split_host(host)
        pin, note = hostutil.envoy_pin(args, cfg)
    except ValueError as bad:
        p.error(str(bad))
    e = Envoy(name, port, pin, timeout_s=TIMEOUT_S, pin_file=None)
    keeper = None
    try:
        print(trying(host, TIMEOUT_S), flush=True)
        e.probe()
        print(
            "firmware %s, serial %s, %s"
            % (
                e.software,
                e.serial,
                "HTTPS with a token" if e.needs_token() else "plain HTTP, no token",
            )
        )
        print(note or hostutil.seen_certificate(e))
        if e.needs_token():
            token = args.token or (cfg and cfg["envoy"]["token"])
            if not token and cfg:
                keeper = hostutil.token_keeper(cfg, args.config)
                token = token_from_cloud(cfg, keeper, cfg["envoy"]["serial"] or e.serial)
                if token is None:
                    return 1
            if not token:
                print(
                    "this firmware needs a token: give --token, or --config with your"
                    " Enlighten login"
                )
                return 1
            try:
                e.login(token)
            except AuthError:
                if keeper is not None:
                    refused(keeper)
                raise
            print("token accepted (check_jwt)%s" % (", session cookie set" if e.session else ""))
        e.discover()
        print("meter: " + e.describe())
        net, stamp = e.read()
        print("net_w=%d" % net)
        from firmware import ensemble

        if e.needs_token() and ensemble.find(e):
            e.read()
            w = e.battery_w
            print("battery: %s; battery_w=%s" % (e.battery, "-" if w is None else "%d" % w))
        return 0
    except NoNetPower as err:
        print(str(err))
        return 3
    except PinMismatch as err:
        print("refused: %s" % err)
        return 4
    except AuthError as err:
        print("the Envoy refused the token: %s" % err)
        return 1
    except Exception as err:
        print("could not read the Envoy: " + explain(err, host, TIMEOUT_S))
        return 1
    finally:
        e.close()


def token_from_cloud(cfg, keeper, serial):
    """The token tools.token stored, while valid; else a login if the account guard allows."""
    now = int(time.time())
    token = hostutil.reusable_token(keeper, serial, now)
    if token:
        print(
            "token: the one stored in %s (%.0f days left; no cloud login)"
            % (keeper.token_file, keeper.days_left(now))
        )
        return token
    why = hostutil.login_refused(keeper, now)
    if why is None:
        cloud = cfg["enlighten"]["login_url"].split("/")[2]
        print(trying("Enlighten (%s)" % cloud, CLOUD_TIMEOUT_S), flush=True)
        token, why, error = hostutil.cloud_token(cfg, keeper, serial, now, CLOUD_TIMEOUT_S)
        why = explain_cloud(why, error, cfg["enlighten"], CLOUD_TIMEOUT_S)
    if token is None:
        print("could not get a token: %s" % why)
        return None
    print("token: fetched from Enlighten (kept in %s)" % keeper.token_file)
    return token


def refused(keeper):
    # A token the Envoy refuses is no use to the next run either: a fresh one counts as a failed
    # login (the account guard's back-off), a stored one is dropped.
    now = int(time.time())
    if keeper.unproven:
        keeper.fresh_token_rejected(now)
    else:
        from firmware import store

        store.remove(keeper.token_file)
        print("the stored token in %s was refused; the next run logs in" % keeper.token_file)


if __name__ == "__main__":
    sys.exit(main())
