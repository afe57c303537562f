# tools/release.py as a maintainer runs it: a key pair (the private half 0600 and never in the
# repository, the public half as firmware/release_key.py), a signed release that the board's own
# checks accept (firmware/update_*.py under CPython), and --check catching every tampering.
import json
import os
import stat
import subprocess
import sys

from conftest import ROOT
from test_update_e2e import copy_tree

from firmware import update_manifest, update_sig
from tools import release


def run(*args, env=None, cwd=None):
    r = subprocess.run(
        [sys.executable, "-m", "tools.release", *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=ROOT, **(env or {})),
        stdin=subprocess.DEVNULL,
    )
    return r.returncode, r.stdout + r.stderr


def test_a_key_pair_a_release_and_its_check(tmp_path):
    tree = copy_tree(ROOT, str(tmp_path / "tree"))
    key = str(tmp_path / "keys" / "release.pem")
    os.makedirs(os.path.dirname(key))
    secret = {"RELEASE_KEY_PASSPHRASE": "a long passphrase"}
    code, out = run("--new-key", key, "--tree", tree, env=secret)
    assert code == 0, out
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert b"ENCRYPTED" in open(key, "rb").read()  # the passphrase protects it
    n, k = release.tree_key(tree)
    assert k == 384 and update_sig.key_ok(n, k)
    assert "release: new key %s" % update_sig.key_id(n, k) in out

    code, out = run(
        "--key",
        key,
        "--out",
        str(tmp_path / "out"),
        "--tree",
        tree,
        "--notes",
        "https://example.com/n",
        env=secret,
    )
    assert code == 0, out
    data = open(tmp_path / "out" / "manifest.json", "rb").read()
    sig = open(tmp_path / "out" / "manifest.sig", "rb").read()
    import hashlib

    assert update_sig.verify(sig, hashlib.sha256(data).digest(), n, k)
    m = update_manifest.parse(data)
    assert m["version"] == release.tree_version(tree) and m["min_from"] == release.MIN_FROM
    paths = [f[0] for f in m["files"]]
    assert "boot.py" in paths and "firmware/app.mpy" in paths and "firmware/app.py" not in paths
    assert any(p.startswith("firmware/certs/") for p in paths)
    assert run("--check", str(tmp_path / "out"), "--tree", tree)[0] == 0

    # Tampering with a file, the manifest or the signature: --check says so.
    victim = tmp_path / "out" / m["version"] / "firmware" / "app.mpy"
    good = victim.read_bytes()
    victim.write_bytes(good + b"\0")
    code, out = run("--check", str(tmp_path / "out"), "--tree", tree)
    assert code == 1 and "firmware/app.mpy is not the file the manifest signs" in out
    victim.write_bytes(good)
    (tmp_path / "out" / "manifest.json").write_bytes(data.replace(b"1.1.0", b"1.1.9", 1))
    code, out = run("--check", str(tmp_path / "out"), "--tree", tree)
    assert code == 1 and "the signature does not match" in out


def test_the_private_key_is_refused_inside_the_repository_and_never_overwritten(tmp_path):
    tree = copy_tree(ROOT, str(tmp_path / "tree"))
    code, out = run(
        "--new-key", os.path.join(ROOT, "release.pem"), "--tree", tree, "--no-passphrase"
    )
    assert code != 0 and "keep the private key outside the repository" in out
    assert not os.path.exists(os.path.join(ROOT, "release.pem"))
    key = str(tmp_path / "k.pem")
    assert run("--new-key", key, "--tree", tree, "--no-passphrase")[0] == 0
    code, out = run("--new-key", key, "--tree", tree, "--no-passphrase")
    assert code != 0 and "exists; not overwriting a key" in out


def test_no_passphrase_at_hand_is_a_clear_refusal(tmp_path):
    tree = copy_tree(ROOT, str(tmp_path / "tree"))
    code, out = run(
        "--new-key", str(tmp_path / "k.pem"), "--tree", tree, env={"RELEASE_KEY_PASSPHRASE": ""}
    )
    assert code != 0 and "at least 8 characters" in out
    env = {k: v for k, v in os.environ.items() if k != "RELEASE_KEY_PASSPHRASE"}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.release",
            "--new-key",
            str(tmp_path / "k2.pem"),
            "--tree",
            tree,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(env, PYTHONPATH=ROOT),
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode != 0 and "RELEASE_KEY_PASSPHRASE" in r.stdout + r.stderr


def test_the_repository_ships_no_release_key():
    # Honest by construction: no private key exists for a committed public one.
    assert release.tree_key(ROOT) is None
    assert "N = None" in open(os.path.join(ROOT, "firmware", "release_key.py")).read()


def test_a_broken_boot_py_is_refused_by_the_release_tool(tmp_path):
    tree = copy_tree(ROOT, str(tmp_path / "tree"))
    with open(os.path.join(tree, "boot.py"), "a") as f:
        f.write("\ndef broken(:\n")
    key = str(tmp_path / "k.pem")
    assert run("--new-key", key, "--tree", tree, "--no-passphrase")[0] == 0
    code, out = run("--key", key, "--out", str(tmp_path / "o"), "--tree", tree, "--no-passphrase")
    assert code != 0 and "mpy-cross failed on boot.py" in out
    assert not os.path.exists(tmp_path / "o" / "manifest.json")


def test_the_manifest_lists_one_file_a_line():
    m = {"format": 1, "version": "1", "files": [{"path": "a", "size": 1, "sha256": "x"}] * 2}
    text = release.manifest_bytes(m).decode()
    assert json.loads(text) == m and len(text.splitlines()) == 4
