"""Read your Envoy from a PC with the firmware's own client, before flashing anything.

    python -m tools.envoy_read --host HOST[:PORT] [--token JWT | --config config.json]

Prints the firmware version, the meter used and net_w=<int> (+ import, - export). If the Envoy
cannot give net power it says why and exits with status 3; other failures exit with 1. With
--config, the token is envoy.token, or one fetched from Enlighten with your login.
The Envoy's certificate is not pinned here (nothing is written); see tools.envoy_pin.
"""

import argparse
import sys

from firmware import urls
from firmware import enlighten
from firmware.envoy import AuthError, Envoy, NoNetPower
from tools.hostutil import load_config


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", help="192.168.1.50 or host:port (default: envoy.host from --config)")
    p.add_argument("--token", help="an Envoy token (JWT)")
    p.add_argument(
        "--config", help="config.json: the host, and envoy.token or your Enlighten login"
    )
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
    except ValueError as e:
        p.error(str(e))
    e = Envoy(name, port, "off", timeout_s=15)
    try:
        e.probe()
        print(
            "firmware %s, serial %s, %s"
            % (
                e.software,
                e.serial,
                "HTTPS with a token" if e.needs_token() else "plain HTTP, no token",
            )
        )
        if e.needs_token():
            token = args.token or (cfg and cfg["envoy"]["token"])
            if not token and cfg:
                token = enlighten.get_token(cfg["enlighten"], cfg["envoy"]["serial"] or e.serial)
                print("token: fetched from Enlighten")
            if not token:
                print(
                    "this firmware needs a token: give --token, or --config with your"
                    " Enlighten login"
                )
                return 1
            e.login(token)
            print("token accepted (check_jwt)%s" % (", session cookie set" if e.session else ""))
        e.discover()
        print("meter: " + e.describe())
        net, stamp = e.read()
        print("net_w=%d" % net)
        return 0
    except NoNetPower as err:
        print(str(err))
        return 3
    except AuthError as err:
        print("the Envoy refused the token: %s" % err)
        return 1
    except enlighten.CloudError as err:
        print("could not get a token: %s" % err)
        return 1
    except Exception as err:
        print("could not read the Envoy at %s: %s" % (host, str(err) or type(err).__name__))
        return 1
    finally:
        e.close()


if __name__ == "__main__":
    sys.exit(main())
