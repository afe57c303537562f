"""Check your Enlighten login and get an Envoy token from a PC, before flashing anything.

    python -m tools.token --config config.json [--serial SERIAL] [--show]

It runs the firmware's own code (firmware/enlighten.py, the bundled root CAs or enlighten.ca_file)
under CPython: log in to Enlighten, ask Entrez for a token for your Envoy, and print its owner
type, Envoy serial and days left. The token itself is printed only with --show. With a pasted
envoy.token in the config it only decodes that token; the cloud is not contacted.
The serial comes from --serial, envoy.serial, or the Envoy's /info.
"""

import argparse
import sys
import time

from firmware import enlighten, jwt, urls
from tools.hostutil import load_config


def describe(token, now=None):
    claims = jwt.decode(token)
    now = time.time() if now is None else now
    left = jwt.seconds_left(claims, now) / 86400
    return "%s token for Envoy %s, user %s, expires %s UTC (%.0f days left)" % (
        claims.get("enphaseUser") or "unknown-role",
        claims.get("aud"),
        claims.get("username"),
        time.strftime("%Y-%m-%d %H:%M", time.gmtime(claims["exp"])),
        left,
    )


def serial_from_envoy(cfg):
    from firmware.envoy import Envoy

    host, port = urls.split_host(cfg["envoy"]["host"])
    e = Envoy(host, port, "off", timeout_s=10)
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
    p.add_argument("--show", action="store_true", help="print the token itself (keep it secret)")
    args = p.parse_args(argv)
    cfg = load_config(args.config)
    if cfg is None:
        return 2
    token = cfg["envoy"]["token"]
    if token:
        print("pasted token in envoy.token: " + describe(token))
    else:
        serial = args.serial or cfg["envoy"]["serial"]
        if not serial:
            try:
                serial = serial_from_envoy(cfg)
            except Exception as e:
                print(
                    "could not read the serial from the Envoy at %s (%s); give --serial"
                    % (cfg["envoy"]["host"], e)
                )
                return 1
            print("Envoy serial %s (from its /info)" % serial)
        try:
            token = enlighten.get_token(cfg["enlighten"], serial)
        except enlighten.CloudError as e:
            print("failed: %s" % e)
            if e.kind == "certificate":
                print(
                    "the bundled root CAs (firmware/certs) do not cover this server: put its root "
                    "CA (DER) in enlighten.ca_file, and please report it"
                )
            return 1
        print("ok: " + describe(token))
    if args.show:
        print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
