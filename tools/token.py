"""Check your Enlighten login and get an Envoy token from a PC, before flashing anything.

    python -m tools.token --config config.json [--serial SERIAL] [--new] [--show]
                          [--pin HEX | --pin-file PATH]

It runs the firmware's own code (firmware/enlighten.py, the bundled root CAs or enlighten.ca_file)
under CPython: log in to Enlighten, ask Entrez for a token for your Envoy, and print its owner
type, Envoy serial and days left. The token itself is printed only with --show. With a pasted
envoy.token in the config it only decodes that token; the cloud is not contacted.

Logins go through the board's account guard (back-off after a failure, at most 6 a day), with
its record and the token in .diverter/ next to the config. A token got before is reused while
it is valid (--new logs in anyway, if the guard allows it); tools.envoy_read uses it too.
The serial comes from --serial, envoy.serial, or the Envoy's /info (its certificate checked as
envoy.pin, --pin or --pin-file say).
"""

import argparse
import sys
import time

from firmware import tokens, urls
from tools import hostutil
from tools.hostutil import load_config
from tools.neterrors import explain, explain_cloud, trying

TIMEOUT_S = 5  # per Envoy request: an Envoy on the LAN answers within a second
CLOUD_TIMEOUT_S = 10  # per cloud request: Enlighten's login takes a few seconds


def describe(token, now=None):
    claims = tokens.claims_of(token)
    now = time.time() if now is None else now
    left = (claims["exp"] - now) / 86400
    return "%s token for Envoy %s, user %s, expires %s UTC (%.0f days left)" % (
        claims.get("enphaseUser") or "unknown-role",
        claims.get("aud"),
        claims.get("username"),
        time.strftime("%Y-%m-%d %H:%M", time.gmtime(claims["exp"])),
        left,
    )


def serial_from_envoy(cfg, pin="tofu"):
    from firmware.envoy import Envoy

    host, port = urls.split_host(cfg["envoy"]["host"])
    e = Envoy(host, port, pin, timeout_s=TIMEOUT_S, pin_file=None)
    try:
        e.probe()
    finally:
        e.close()
    return e.serial


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="config.json")
    p.add_argument(
        "--serial", help="the Envoy serial (default: envoy.serial, or the Envoy's /info)"
    )
    p.add_argument(
        "--new", action="store_true", help="log in even if a valid token is stored (guarded)"
    )
    p.add_argument("--show", action="store_true", help="print the token itself (keep it secret)")
    hostutil.add_pin_options(p)
    args = p.parse_args(argv)
    cfg = load_config(args.config)
    if cfg is None:
        return 2
    try:
        pin, _ = hostutil.envoy_pin(args, cfg)
    except ValueError as e:
        print(e)
        return 2
    token = cfg["envoy"]["token"]
    if token:
        try:
            print("pasted token in envoy.token: " + describe(token))
        except ValueError as e:
            print("the pasted token in envoy.token is unusable: %s" % e)
            return 1
    else:
        token = get_token(cfg, args, pin)
        if token is None:
            return 1
    if args.show:
        print(token)
    return 0


def get_token(cfg, args, pin):
    keeper = hostutil.token_keeper(cfg, args.config)
    now = int(time.time())
    serial = args.serial or cfg["envoy"]["serial"]
    if not args.new:
        token = hostutil.reusable_token(keeper, serial, now)
        if token:
            print("ok (stored in %s, no cloud login): %s" % (keeper.token_file, describe(token)))
            return token
    refused = hostutil.login_refused(keeper, now)
    if refused:
        print(refused)
        return None
    if not serial:
        host = cfg["envoy"]["host"]
        print("the Envoy serial, from its /info: " + trying(host, TIMEOUT_S), flush=True)
        try:
            serial = serial_from_envoy(cfg, pin)
        except Exception as e:
            print("could not read the serial: %s; or give --serial" % explain(e, host, TIMEOUT_S))
            return None
        print("Envoy serial %s (from its /info)" % serial)
    cloud = cfg["enlighten"]
    print(trying("Enlighten (%s)" % cloud["login_url"].split("/")[2], CLOUD_TIMEOUT_S), flush=True)
    token, why, error = hostutil.cloud_token(cfg, keeper, serial, now, CLOUD_TIMEOUT_S)
    if token is None:
        print("failed: %s" % explain_cloud(why, error, cloud, CLOUD_TIMEOUT_S))
        if error is not None and error.kind == "certificate":
            print(
                "the bundled root CAs (firmware/certs) do not cover this server: put its root "
                "CA (DER) in enlighten.ca_file, and please report it"
            )
        return None
    print("ok: " + describe(token))
    return token


if __name__ == "__main__":
    sys.exit(main())
