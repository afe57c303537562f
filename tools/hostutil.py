"""Small helpers shared by the host tools."""

import json
import os
import shutil
import sys

from firmware import config as fwconfig


def venv_tool(name):
    """The path of a command installed next to this Python (.venv/bin), else from the PATH."""
    here = os.path.join(os.path.dirname(sys.executable), name)
    return here if os.path.exists(here) else shutil.which(name) or name


def load_config(path):
    """config.json checked by the firmware's own validator; problems are printed. None if any."""
    cfg, errors, warnings = fwconfig.load(path)
    for w in warnings:
        print("config: warning: " + w)
    for e in errors:
        print("config: " + e)
    if errors:
        print("config: %d problem(s); fix %s first" % (len(errors), path))
        return None
    return cfg


# -- what the Envoy tools share: the certificate pin and the account guard ----------------------

STATE_DIR = ".diverter"  # next to config.json: the host tools' token and login record
REUSE_MIN_S = 3600  # a stored token is reused while it has at least this long to live


def add_pin_options(parser):
    parser.add_argument(
        "--pin",
        metavar="HEX",
        help="the Envoy certificate's SHA-256 (64 hex digits, see tools.envoy_pin), or off; "
        "overrides envoy.pin",
    )
    parser.add_argument(
        "--pin-file",
        metavar="PATH",
        help="a copy of the board's envoy_pin.json: the certificate must be the one it pinned",
    )


def envoy_pin(args, cfg):
    """The pin for firmware.envoy.Envoy from --pin, else --pin-file, else envoy.pin (default
    tofu), and a line saying how the certificate is checked. Raises ValueError."""
    if args.pin:
        pin = args.pin.strip().lower()
        if pin != "off" and not _is_hex_pin(pin):
            raise ValueError("--pin: expected 64 hex digits (a SHA-256) or off")
        return pin, "certificate: %s (--pin)" % ("not checked" if pin == "off" else "pinned")
    if args.pin_file:
        from firmware.envoy_setup import pin_record

        try:
            with open(args.pin_file) as f:
                record = pin_record(json.load(f))
        except (OSError, ValueError) as e:
            raise ValueError("--pin-file %s: %s" % (args.pin_file, e))
        if record is None or record[0] is None:
            raise ValueError(
                "--pin-file %s holds no pinned certificate (is it the board's envoy_pin.json?)"
                % args.pin_file
            )
        return record[0], "certificate: checked against the board's pin (%s)" % args.pin_file
    pin = cfg["envoy"]["pin"] if cfg else "tofu"
    if pin == "off":
        return pin, "certificate: not checked (envoy.pin is off)"
    if pin == "tofu":
        return pin, None  # said after the connection: see seen_certificate()
    return pin, "certificate: pinned (envoy.pin)"


def seen_certificate(envoy):
    """For envoy.pin tofu without --pin-file: what was seen, and that nothing checked it."""
    if not envoy.https:
        return "certificate: none (plain HTTP)"
    return (
        "certificate: sha256=%s, not checked (envoy.pin is tofu: give --pin-file with a copy of "
        "the board's envoy_pin.json, or --pin)" % envoy.pinned()
    )


def _is_hex_pin(text):
    text = text.replace(":", "")
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def state_dir(config_path):
    """The folder for the host tools' own token.json and cloud.json (git-ignored)."""
    path = os.path.join(os.path.dirname(os.path.abspath(config_path)), STATE_DIR)
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def token_keeper(cfg, config_path):
    """The board's account guard (tokens.TokenKeeper) over the host tools' own files."""
    from firmware import tokens

    folder = state_dir(config_path)
    return tokens.TokenKeeper(
        cfg["envoy"],
        cfg["enlighten"],
        token_file=os.path.join(folder, tokens.TOKEN_FILE),
        cloud_file=os.path.join(folder, tokens.CLOUD_FILE),
    )


def reusable_token(keeper, serial, now):
    """The token a host tool got before, if it is still good for this Envoy, else None."""
    keeper.load()
    if keeper.token is None:
        return None
    if keeper.claims["exp"] - now < REUSE_MIN_S:
        return None
    if serial and keeper.claims.get("aud") not in (None, serial):
        return None
    return keeper.token


def login_refused(keeper, now):
    """Why the account guard allows no cloud login now, or None."""
    wait = keeper.login_wait(now)
    if not wait:
        return None
    return (
        "no cloud login now: the next one is allowed in %d min (protecting your Enlighten "
        "account: %d login(s) in the last 24 h, %d failure(s) in a row; record in %s)"
        % ((wait + 59) // 60, keeper.logins_today(now), keeper.failures(), keeper.cloud_file)
    )


def cloud_token(cfg, keeper, serial, now, timeout_s=None):
    """A new token through the account guard (check login_refused first): (token, None, None),
    or (None, why, the enlighten.CloudError or None). timeout_s: per request."""
    from firmware import enlighten

    failed = []

    def fetch(serial, first, another):
        try:
            return enlighten.get_token(
                cfg["enlighten"], serial, timeout_s=timeout_s, first=first, another=another
            )
        except enlighten.CloudError as e:
            failed.append(e)
            raise

    line = keeper.renew(now, serial, fetch)
    if line is None:
        return None, login_refused(keeper, now), None
    if keeper.problem:
        return None, line[len("token: ") :], failed[0] if failed else None
    return keeper.token, None, None
