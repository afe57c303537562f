"""Make a signed release for updates over the air, or the key that signs them.

    python -m tools.release --new-key KEY            # a key pair: KEY (private, 0600, outside
                                                     # the repository) and firmware/release_key.py
    python -m tools.release --key KEY --out DIR      # a release of this tree in DIR
    python -m tools.release --check DIR              # check DIR against firmware/release_key.py

A release folder holds manifest.json (the version, the oldest version it may update from, the
release notes' address, and every file with its size and SHA-256), manifest.sig (RSA, e = 65537,
PKCS#1 v1.5 over the SHA-256 of manifest.json's exact bytes) and VERSION/ with the board files
compiled as `make deploy` compiles them. Publish the whole folder at the address boards have in
update.url (upload VERSION/ first, then manifest.sig and manifest.json). The private key is
asked for its passphrase (RELEASE_KEY_PASSPHRASE, or at the terminal); --no-passphrase is for
tests only.
"""

import argparse
import getpass
import hashlib
import json
import os
import shutil
import stat
import sys

from tools.board import mpy

ROOT = mpy.ROOT
MIN_FROM = "1.1.0"  # the first version that installs updates over the air
KEY_BITS = 3072
KEY_MODULE = "firmware/release_key.py"
PASSPHRASE_ENV = "RELEASE_KEY_PASSPHRASE"


def key_id(n, k):
    """The board's name for a key (firmware/update_sig.py's key_id)."""
    return hashlib.sha256(n.to_bytes(k, "big")).digest()[:8].hex()


def public_module(n, k):
    """The text of firmware/release_key.py for the modulus n (k bytes)."""
    digits = "%0*x" % (2 * k, n)
    lines = "".join('    "%s"\n' % digits[i : i + 64] for i in range(0, len(digits), 64))
    lines = lines[:-1] + ",\n"
    return (
        "# The public key that signs this firmware's releases (RSA, e = 65537): updates over\n"
        "# the air are installed only when their manifest is signed by it. N: the modulus,\n"
        "# BYTES: its size. A release carries this file too, so a release can hand over to a\n"
        "# new key. Written by `python -m tools.release --new-key`; key id %s.\n"
        "N = int(\n%s    16,\n)\nBYTES = %d\n" % (key_id(n, k), lines, k)
    )


def _passphrase(ask_twice):
    text = os.environ.get(PASSPHRASE_ENV)
    if text is None:
        if not sys.stdin.isatty():
            raise SystemExit(
                "release: the key's passphrase: set %s or run at a terminal "
                "(--no-passphrase only for tests)" % PASSPHRASE_ENV
            )
        text = getpass.getpass("passphrase of the release key: ")
        if ask_twice and getpass.getpass("again: ") != text:
            raise SystemExit("release: the passphrases differ")
    if len(text) < 8:
        raise SystemExit("release: a passphrase of at least 8 characters, please")
    return text.encode()


def _inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder + os.sep)


def new_key(key_path, tree=ROOT, passphrase=True, bits=KEY_BITS):
    """A new key pair: the private key to key_path (mode 0600; refused inside the repository
    or over an existing file), the public one to tree's firmware/release_key.py. Returns the
    key id."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    if _inside(key_path, ROOT) or _inside(key_path, tree):
        raise SystemExit("release: keep the private key outside the repository: %s" % key_path)
    if os.path.exists(key_path):
        raise SystemExit("release: %s exists; not overwriting a key" % key_path)
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    enc = (
        serialization.BestAvailableEncryption(_passphrase(True))
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    n, k = key.public_key().public_numbers().n, bits // 8
    with open(os.path.join(tree, KEY_MODULE), "w") as f:
        f.write(public_module(n, k))
    return key_id(n, k)


def load_key(key_path, passphrase=True):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    mode = os.stat(key_path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        print("release: warning: %s can be read by others (chmod 600 it)" % key_path)
    with open(key_path, "rb") as f:
        data = f.read()
    secret = _passphrase(False) if passphrase and b"ENCRYPTED" in data else None
    key = serialization.load_pem_private_key(data, secret)
    n = key.public_key().public_numbers()
    if not isinstance(key, rsa.RSAPrivateKey) or n.e != 65537 or key.key_size not in (2048, 3072):
        raise SystemExit("release: the key must be RSA 2048 or 3072 bits with e = 65537")
    return key


def tree_version(tree):
    ns = {}
    with open(os.path.join(tree, "firmware", "__init__.py")) as f:
        exec(f.read(), ns)
    return ns["VERSION"]


def tree_key(tree):
    """(n, k) of tree's firmware/release_key.py, or None."""
    ns = {}
    with open(os.path.join(tree, KEY_MODULE)) as f:
        exec(f.read(), ns)
    return None if ns.get("N") is None else (ns["N"], ns["BYTES"])


def _files(tree, out):
    # The board files as `make deploy` puts them: .mpy for firmware/, the rest as they are.
    rows = []
    for src in mpy.package_files(tree):
        dst = src[:-3] + ".mpy" if src.startswith("firmware/") and src.endswith(".py") else src
        full = os.path.join(out, dst)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if dst.endswith(".py"):  # boot.py and main.py stay sources: they must compile too
            err = mpy.compile_file(src, full[:-3] + ".check.mpy", tree)
            if os.path.exists(full[:-3] + ".check.mpy"):
                os.remove(full[:-3] + ".check.mpy")
        elif dst.endswith(".mpy"):
            err = mpy.compile_file(src, full, tree)
        else:
            err = None
        if err:
            raise SystemExit("release: mpy-cross failed on %s: %s" % (src, err))
        if not dst.endswith(".mpy"):
            shutil.copy(os.path.join(tree, src), full)
        with open(full, "rb") as f:
            data = f.read()
        rows.append({"path": dst, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    return rows


def manifest_bytes(m):
    """The manifest's exact bytes (what is signed): the header, then one file a line."""
    head = {k: v for k, v in m.items() if k != "files"}
    lines = [json.dumps(head, sort_keys=True)[:-1] + ', "files": [']
    lines += [
        "  " + json.dumps(f, sort_keys=True) + ("," if i < len(m["files"]) - 1 else "")
        for i, f in enumerate(m["files"])
    ]
    return ("\n".join(lines) + "\n]}\n").encode()


def sign(key, data):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def build(key, out, tree=ROOT, notes="", summary="", min_from=MIN_FROM):
    """A release of tree in out, signed by key (a cryptography private key); its version is the
    tree's (firmware/__init__.py). Returns the manifest (a dict)."""
    version = tree_version(tree)
    shutil.rmtree(os.path.join(out, version), ignore_errors=True)
    os.makedirs(out, exist_ok=True)
    n, k = key.public_key().public_numbers().n, key.key_size // 8
    m = {
        "format": 1,
        "name": "envoy-diverter",
        "version": version,
        "min_from": min_from,
        "notes": notes,
        "summary": summary[:255],
        "key": key_id(n, k),
        "files": _files(tree, os.path.join(out, version)),
    }
    data = manifest_bytes(m)
    with open(os.path.join(out, "manifest.sig"), "wb") as f:
        f.write(sign(key, data))
    with open(os.path.join(out, "manifest.json"), "wb") as f:
        f.write(data)
    return m


def check(folder, tree=ROOT):
    """Check a release folder as a board would (firmware/update_*.py, here under CPython)
    against tree's public key: a list of problems, empty when it is fine."""
    sys.path.insert(0, tree)
    from firmware import update_manifest, update_sig

    pub = tree_key(tree)
    if pub is None:
        return ["%s holds no key" % KEY_MODULE]
    with open(os.path.join(folder, "manifest.json"), "rb") as f:
        data = f.read()
    with open(os.path.join(folder, "manifest.sig"), "rb") as f:
        sig = f.read()
    if not update_sig.verify(sig, hashlib.sha256(data).digest(), *pub):
        return ["the signature does not match %s (key %s)" % (KEY_MODULE, key_id(*pub))]
    try:
        m = update_manifest.parse(data)
    except ValueError as e:
        return ["manifest.json: %s" % e]
    problems = []
    for path, size, digest in m["files"]:
        full = os.path.join(folder, m["version"], path)
        try:
            with open(full, "rb") as f:
                body = f.read()
        except OSError:
            problems.append("%s is missing" % path)
            continue
        if len(body) != size or hashlib.sha256(body).digest() != digest:
            problems.append("%s is not the file the manifest signs" % path)
    return problems


def vectors(path):
    """Test vectors for host_tests/unit/test_update_sig.py (run on both runtimes, so without
    `cryptography`): two throwaway keys, one good signature each, and blocks of every wrong shape
    signed with the real key by raw RSA, so that only a shortcut in the check could accept them.
    The private keys are thrown away."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    sys.path.insert(0, ROOT)
    from firmware.update_sig import DIGEST_INFO, block

    msg = b'{"format": 1, "name": "envoy-diverter", "version": "9.9.9"}\n'
    digest = hashlib.sha256(msg).digest()
    keys = {b: rsa.generate_private_key(public_exponent=65537, key_size=b) for b in (2048, 3072)}
    other = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    priv = keys[3072].private_numbers()
    n, d, k = priv.public_numbers.n, priv.d, 384

    def raw(m):  # the signature whose block is m, whatever m is
        return pow(int.from_bytes(m, "big"), d, n).to_bytes(k, "big")

    sha1 = hashlib.sha1(msg).digest()
    sha1_info = bytes.fromhex("3021300906052b0e03021a05000414")
    good = block(digest, k)
    forged = {
        # a short padding, then garbage after the digest: what an e = 3 forgery leaves
        "garbage_after": b"\x00\x01"
        + b"\xff" * 8
        + b"\x00"
        + DIGEST_INFO
        + digest
        + bytes(i % 251 for i in range(k - 11 - len(DIGEST_INFO) - 32)),
        "pad_not_ff": good[:5] + b"\xfe" + good[6:],
        "block_type_2": b"\x00\x02" + good[2:],
        "no_separator": good[: k - 52] + b"\xff" + good[k - 51 :],
        "sha1_digest_info": b"\x00\x01" + b"\xff" * (k - 3 - 15 - 20) + b"\x00" + sha1_info + sha1,
        "no_null_parameters": b"\x00\x01"
        + b"\xff" * (k - 3 - 17 - 32)
        + b"\x00"
        + bytes.fromhex("302f300b0609608648016503040201")
        + b"\x04\x20"
        + digest,
        "digest_at_the_front": b"\x00\x01\x00" + DIGEST_INFO + digest + b"\xff" * (k - 3 - 51),
        "another_digest": block(hashlib.sha256(msg + b" ").digest(), k),
    }
    out = ["# Generated by tools/release.py vectors(): keys thrown away after signing.", ""]
    out[0] += "\n# ruff: noqa: E501 (numbers)"
    out.append("MESSAGE = %r" % msg)
    for bits, key in sorted(keys.items()):
        out.append("N%d = 0x%x" % (bits, key.public_key().public_numbers().n))
        out.append("SIG%d = %r" % (bits, sign(key, msg).hex()))
    out.append("N_OTHER = 0x%x" % other.public_key().public_numbers().n)
    out.append("SIG_OTHER = %r" % sign(other, msg).hex())
    out.append("FORGED = {")
    out += ["    %r: %r," % (name, raw(m).hex()) for name, m in sorted(forged.items())]
    out.append("}")
    out.append("RAW_GOOD = %r  # block() signed by raw RSA: must verify" % raw(good).hex())
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--key", help="the private key (PEM) that signs the release")
    p.add_argument("--out", help="the release folder to write")
    p.add_argument("--new-key", metavar="KEY", help="make a key pair: KEY and %s" % KEY_MODULE)
    p.add_argument("--check", metavar="DIR", help="check a release folder against the key")
    p.add_argument("--notes", default="", help="the release notes' https:// address")
    p.add_argument("--summary", default="", help="a line about the release (255 characters)")
    p.add_argument("--min-from", default=MIN_FROM, help="the oldest version it may update")
    p.add_argument("--tree", default=ROOT, help=argparse.SUPPRESS)
    p.add_argument("--no-passphrase", action="store_true", help="tests only: an unencrypted key")
    p.add_argument("--vectors", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.vectors:
        vectors(args.vectors)
        return 0
    if args.new_key:
        kid = new_key(args.new_key, args.tree, not args.no_passphrase)
        print(
            "release: new key %s: private key in %s (mode 0600; keep it offline, with a backup)"
            % (kid, args.new_key)
        )
        print(
            "release: public key in %s: deploy once by USB (make deploy) so that the board "
            "trusts it" % KEY_MODULE
        )
        return 0
    if args.check:
        problems = check(args.check, args.tree)
        for line in problems:
            print("release: %s" % line)
        print("release: %s" % ("fine" if not problems else "%d problem(s)" % len(problems)))
        return 1 if problems else 0
    if not (args.key and args.out):
        p.error("give --key KEY --out DIR (or --new-key KEY, or --check DIR)")
    if args.notes and not args.notes.startswith("https://"):
        p.error("--notes must be an https:// address")
    key = load_key(args.key, not args.no_passphrase)
    pub = tree_key(args.tree)
    n = key.public_key().public_numbers().n
    if pub is None or pub[0] != n:
        print(
            "release: warning: %s is not this key's public half: boards running this release "
            "will not trust the next one signed with it" % KEY_MODULE
        )
    m = build(key, args.out, args.tree, args.notes, args.summary, args.min_from)
    total = sum(f["size"] for f in m["files"])
    print(
        "release: %s in %s: %d files, %d KB, key %s, updates from %s on"
        % (
            m["version"],
            args.out,
            len(m["files"]),
            (total + 1023) // 1024,
            m["key"],
            m["min_from"],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
