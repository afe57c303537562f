"""Print the SHA-256 of your Envoy's certificate, for envoy.pin in config.json.

    python -m tools.envoy_pin --host HOST[:PORT]

It connects the way the board does (firmware/http.py) and reads the certificate's fingerprint.
Put the 64 hex digits in envoy.pin to trust exactly that certificate; "tofu" (the default) lets
the board record it at its first connection instead.
"""

import argparse
import binascii
import sys

from firmware import urls
from firmware.http import Connection
from tools.neterrors import explain, trying

TIMEOUT_S = 5  # an Envoy on the LAN answers within a second


def fingerprint(host, port=443, timeout_s=TIMEOUT_S):
    seen = []
    conn = Connection(host, port, tls=True, check_peer=seen.append, timeout_s=timeout_s)
    try:
        conn.connect()
    finally:
        conn.close()
    return str(binascii.hexlify(seen[0]), "ascii") if seen and seen[0] else None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", required=True, help="192.168.1.50 or host:port")
    p.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds (default 5)")
    args = p.parse_args(argv)
    try:
        name, port = urls.split_host(args.host)
    except ValueError as e:
        p.error(str(e))
    print(trying(args.host, args.timeout), flush=True)
    try:
        digest = fingerprint(name, port or 443, args.timeout)
    except Exception as e:
        print("could not read the certificate: " + explain(e, args.host, args.timeout))
        return 1
    print("sha256=%s" % digest)
    print('config.json: "envoy": {"pin": "%s"}' % digest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
