# Updates over the air, end to end: the real main.py under micropython (the board laid out as
# `make deploy` lays it out, with a test key of its own), a release made by tools/release.py and
# served by tools/sim/release_server.py on 127.0.0.1 over real TLS (the test CA), and the simulated
# Envoy and cloud. An update installs, runs on trial and proves itself; every bad release is
# refused with its line, and the old version keeps running. The helpers here serve the other
# test_update_*.py modules too.
import json
import os
import resource
import shutil
import signal

import pytest
from conftest import ROOT

from tools import release
from tools.board.hostboard import HostBoard, lay_out
from tools.sim.release_server import ReleaseServer

SIM_SPEED = 10
OLD = "1.1.0"  # what the board runs: this tree, with a test key


def copy_tree(src, dst):
    os.makedirs(dst, exist_ok=True)
    for name in ("boot.py", "main.py"):
        shutil.copy(os.path.join(src, name), os.path.join(dst, name))
    shutil.copytree(
        os.path.join(src, "firmware"),
        os.path.join(dst, "firmware"),
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        dirs_exist_ok=True,
    )
    return dst


def set_version(tree, version):
    path = os.path.join(tree, "firmware", "__init__.py")
    old = release.tree_version(tree)
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace('VERSION = "%s"' % old, 'VERSION = "%s"' % version))


def edit(tree, path, old, new):
    full = os.path.join(tree, path)
    with open(full) as f:
        text = f.read()
    assert old in text, (path, old)
    with open(full, "w") as f:
        f.write(text.replace(old, new))


class Releases:
    """A key of the test's own, the board's tree (this one, trusting that key), releases made
    from edited copies of it, and the server that publishes them."""

    def __init__(self, tmp, pki):
        self.tmp = str(tmp)
        self.pki = pki
        self.old = copy_tree(ROOT, os.path.join(self.tmp, "tree-old"))
        set_version(self.old, OLD)
        self.key_path = os.path.join(self.tmp, "keys", "release.pem")
        os.makedirs(os.path.dirname(self.key_path))
        self.key_id = release.new_key(self.key_path, self.old, passphrase=False)
        self.key = release.load_key(self.key_path, passphrase=False)
        self.out = os.path.join(self.tmp, "releases")
        os.makedirs(self.out)
        self.server = ReleaseServer(self.out, pki).start()

    def tree(self, version, *edits):
        t = copy_tree(
            self.old, os.path.join(self.tmp, "tree-%s-%d" % (version, len(os.listdir(self.tmp))))
        )
        set_version(t, version)
        for path, old, new in edits:
            edit(t, path, old, new)
        return t

    def publish(self, version="1.1.1", *edits, key=None, **kw):
        """A release of version (the board's tree with edits) in the server's folder."""
        kw.setdefault("notes", "https://example.com/notes/%s" % version)
        kw.setdefault("summary", "a test release")
        return release.build(key or self.key, self.out, self.tree(version, *edits), **kw)

    def update(self, **kw):
        u = {"url": self.server.url, "ca_file": self.pki["ca_der"], "auto": True}
        u.update(kw)
        return u

    def stop(self):
        self.server.stop()


@pytest.fixture
def rel(tmp_path, pki_dir):
    from tools.sim import certs

    r = Releases(tmp_path / "rel", certs.make(pki_dir))
    yield r
    r.stop()


def _flash_limit(nbytes):
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write over the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, resource.RLIM_INFINITY))

    return limit


@pytest.fixture
def upboard(sim, tmp_path, rel):
    """start(update=None, fresh=True, flash_limit=None, slot="a"): the board, laid out from the
    test tree (its key), running main.py; update: the config's update section."""
    folder = tmp_path / "board"
    simdir = tmp_path / "simdir"
    simdir.mkdir()
    sim.relay_file = str(simdir / "relay")
    running = []

    def start(update=None, fresh=True, flash_limit=None, slot="a", **cfg):
        if fresh:
            lay_out(
                str(folder),
                sim.config(update=update or rel.update(), **cfg),
                slot=slot,
                tree=rel.old,
            )
        pre = _flash_limit(flash_limit) if flash_limit else None
        b = HostBoard(str(folder), sim.clock.env(str(simdir)), preexec_fn=pre)
        b.dir = folder
        b.simdir = simdir
        running.append(b)
        return b

    yield start
    for b in running:
        b.kill()


LOGIN_RESTART = "token: restarting with the new token, in a fresh heap"


def own_resets(b):
    """The board's restarts less the one after its first cloud login (startup.py restarts after
    a login too, so that the diverter starts in a fresh heap)."""
    return b.resets - b.count(LOGIN_RESTART)


def pointer(b):
    return json.loads((b.dir / "app.json").read_text())


def record(b):
    return json.loads((b.dir / "update.json").read_text())


def slot_version(b, slot):
    folder = b.dir / "app" / slot / "firmware"
    for name in ("__init__.py", "__init__.mpy"):
        if (folder / name).exists():
            return (folder / name).read_bytes()
    return None


# -- the update --------------------------------------------------------------------------------


def test_an_update_installs_at_boot_runs_on_trial_and_proves_itself(sim, rel, upboard):
    m = rel.publish("1.1.1")
    sim.envoy.live = sim.steady(3000, -2600)
    b = upboard()
    b.wait_for("update: looking at %s (this is 1.1.0)" % rel.server.url, 20)
    b.wait_for("update: writing 1.1.1 into app/b: %d files" % len(m["files"]), 20)
    b.wait_for("update: 1.1.1 installed in slot b; restarting into it, on trial for 3 boots", 30)
    b.wait_for("boot: 1.1.1 on trial, boot 1 of 3", 20)
    b.wait_for("diverter 1.1.1: heater 2000 W", 20)
    b.wait_for("relay=on reason=surplus", 40)
    line = b.wait_for("update: 1.1.1 proved itself healthy and stays; 1.1.0 is kept", 60)
    assert b.find("relay=on reason=surplus") < b.find(line)
    p = pointer(b)
    assert (p["active"], p["previous"], p["trial"], p["version"]) == ("b", "a", None, "1.1.1")
    assert b.count("update: looking at") == 1 and own_resets(b) == 1  # one restart: into 1.1.1
    # Exactly the manifest's files, as compiled by the release, and nothing else in the slot.
    got = sorted(
        os.path.relpath(os.path.join(d, n), b.dir / "app" / "b")
        for d, _, names in os.walk(b.dir / "app" / "b")
        for n in names
    )
    assert got == sorted(f["path"] for f in m["files"])
    assert (b.dir / "boot.py").read_bytes() == (b.dir / "app" / "b" / "boot.py").read_bytes()
    assert record(b)["offer"]["version"] == "1.1.1"
    # Heater OFF through the install: no relay=on before the new version ran.
    first_on = b.find("relay=on")
    assert first_on > b.find("diverter 1.1.1")
    assert set(r.split("?")[0] for r in rel.server.requests) >= {
        "/releases/manifest.json",
        "/releases/manifest.sig",
        "/releases/1.1.1/firmware/app.mpy",
    }
    assert rel.server.header_names == {"host"}  # no token, no cookie: only the file names

    # A restart later: no new look (not due), the new version runs, healthy, no trial.
    b.kill()
    again = upboard(fresh=False)
    again.wait_for("diverter 1.1.1", 20)
    again.wait_for("relay=on", 40)
    assert not again.find("update: looking") and not again.find("on trial")


def test_a_failed_install_over_the_previous_version_leaves_no_way_back_into_it(sim, rel, upboard):
    # After an update the previous version's slot is the one the next install writes: app.json
    # stops naming it before it is emptied, so that diag.rollback() (or a fallback) never goes
    # into half a version; the running one goes on.
    rel.publish("1.1.1")
    sim.envoy.live = sim.steady(3000, -2600)
    b = upboard()
    b.wait_for("update: 1.1.1 proved itself healthy and stays", 60)
    assert pointer(b)["previous"] == "a"
    b.kill()
    rel.publish("1.1.2")
    rel.server.file_fault, rel.server.fault_from = "truncate", rel.server.files_served + 7
    (b.dir / "update.json").unlink()  # a look is due again
    b = upboard(fresh=False)
    b.wait_for("update: 1.1.2 not installed: ", 30)
    b.wait_for("relay=on reason=surplus", 40)
    p = pointer(b)
    assert (p["active"], p["version"], p["previous"], p["previous_version"]) == (
        "b",
        "1.1.1",
        None,
        None,
    )


def test_the_same_release_again_is_not_newer(sim, rel, upboard):
    rel.publish(OLD)
    b = upboard()
    b.wait_for("update: 1.1.0 is the latest", 20)
    b.wait_for("envoy: net power from", 20)
    assert pointer(b)["active"] == "a" and own_resets(b) == 1  # after the look, into a fresh heap


def test_without_auto_a_release_is_announced_not_installed(sim, rel, upboard):
    rel.publish("1.2.0")
    b = upboard(rel.update(auto=False))
    b.wait_for(
        "update: 1.2.0 is available (this is 1.1.0); notes: https://example.com/notes/1.2.0; "
        "to install it: diag.update(), Home Assistant, or update.auto",
        20,
    )
    b.wait_for("envoy: net power from", 20)
    assert pointer(b)["active"] == "a" and not (b.dir / "app" / "b").exists()
    assert rel.server.files_served == 0


# -- refusals: the old version runs on ----------------------------------------------------------


def refused(sim, b, line):
    """The refusal is said, nothing changed, and the old version goes on to heat."""
    sim.envoy.live = sim.steady(3000, -2600)
    b.wait_for(line, 40)
    b.wait_for("relay=on reason=surplus", 40)
    assert pointer(b) == {"active": "a", "version": OLD}
    assert b.count("diverter 1.1.1") == 0 and b.count("update: looking at") <= 1
    # One restart after the look, so that the diverter starts in a fresh heap; then no look.
    assert (
        b.count("update: restarting after the look, in a fresh heap") == 1 and own_resets(b) == 1
    )
    assert b.find("relay=on") > b.find("board: reset")
    assert "installing" not in (record(b)["said"] or "") or "not installed" in record(b)["said"]


def test_a_bad_signature_is_refused(sim, rel, upboard):
    rel.publish("1.1.1")
    sig = bytearray(open(os.path.join(rel.out, "manifest.sig"), "rb").read())
    sig[100] ^= 0x10
    open(os.path.join(rel.out, "manifest.sig"), "wb").write(bytes(sig))
    b = upboard()
    refused(
        sim,
        b,
        "its signature does not match (a damaged or forged manifest); nothing was installed",
    )
    assert rel.server.files_served == 0


def test_a_manifest_changed_after_signing_is_refused(sim, rel, upboard):
    rel.publish("1.1.1")
    path = os.path.join(rel.out, "manifest.json")
    text = open(path).read().replace('"min_from": "1.1.0"', '"min_from": "1.0.0"')
    open(path, "w").write(text)
    b = upboard()
    refused(sim, b, "its signature does not match")


def test_another_key_is_refused(sim, rel, upboard, tmp_path):
    other = os.path.join(str(tmp_path), "other.pem")
    release.new_key(other, copy_tree(ROOT, str(tmp_path / "scratch")), passphrase=False)
    rel.publish("1.1.1", key=release.load_key(other, passphrase=False))
    b = upboard()
    refused(sim, b, "it is signed by another key (")
    assert "and this board trusts %s" % rel.key_id in b.output()


def test_an_older_release_is_refused(sim, rel, upboard):
    rel.publish("1.0.9")
    b = upboard()
    refused(
        sim,
        b,
        "update: nothing to install: 1.0.9 is not newer than this board's 1.1.0 (an old release, "
        "or a replay)",
    )


def test_a_release_for_newer_boards_only_is_refused(sim, rel, upboard):
    rel.publish("1.3.0", min_from="1.2.0")
    b = upboard()
    refused(sim, b, "1.3.0 updates from 1.2.0 or later only, and this board has 1.1.0")


@pytest.mark.parametrize(
    "fault,says",
    [
        ("tamper", "is not the file the manifest signs (its SHA-256 differs)"),
        ("wrong-size", "the manifest says"),
        ("truncate", "truncated"),
        ("missing", "the server answered 404"),
        ("chunked", "the server sends chunked bytes"),
        ("stall", "timed out"),  # half a file, then nothing: the request's deadline ends it
    ],
)
def test_a_file_not_as_the_manifest_says_is_refused(sim, rel, upboard, fault, says):
    rel.publish("1.1.1")
    rel.server.file_fault, rel.server.fault_from = fault, 7
    b = upboard()
    refused(sim, b, "update: 1.1.1 not installed: ")
    line = b.lines[b.find("update: 1.1.1 not installed")]
    assert says in line and line.endswith("; 1.1.0 stays"), line


def test_a_full_flash_is_said_and_the_old_version_stays(sim, rel, upboard):
    rel.publish("1.1.1")
    b = upboard(flash_limit=3000)  # every file over 3 KB fails to write, as on a full flash
    refused(sim, b, "update: 1.1.1 not installed: flash full; 1.1.0 stays")


def test_a_failed_install_is_not_retried_at_every_boot(sim, rel, upboard):
    rel.publish("1.1.1")
    rel.server.file_fault = "missing"
    b = upboard()
    b.wait_for("update: 1.1.1 not installed", 30)
    b.wait_for("envoy: net power from", 20)
    b.kill()
    again = upboard(fresh=False)
    again.wait_for("envoy: net power from", 20)
    assert not again.find("update: looking")  # the next look waits check_h


def test_updates_are_refused_without_a_release_key(sim, rel, upboard):
    rel.publish("1.1.1")
    edit(rel.old, "firmware/release_key.py", "N = int(", "N = None and int(")
    b = upboard()
    refused(
        sim, b, "update: this firmware trusts no release key (firmware/release_key.py is empty)"
    )


def test_an_unreachable_server_is_said_and_the_diverter_carries_on(sim, rel, upboard):
    rel.server.stop()
    b = upboard()
    refused(
        sim,
        b,
        "update: could not look at %s: connection refused; the next look in 24 h" % rel.server.url,
    )


def test_a_server_with_an_untrusted_certificate_is_refused(sim, rel, upboard):
    rel.publish("1.1.1")
    b = upboard(rel.update(ca_file=""))  # the bundled public roots: the test CA is not one
    refused(sim, b, "update: could not look at %s: " % rel.server.url)
    assert rel.server.requests == []  # nothing was asked of it


def test_a_pinned_server_certificate_is_enough_and_another_is_refused(sim, rel, upboard):
    from tools.sim.certs import sha256_of_pem

    rel.publish("1.1.1")
    pin = sha256_of_pem(rel.pki["cloud_pem"])
    b = upboard(rel.update(ca_file="", pin=pin))
    b.wait_for("update: 1.1.1 installed in slot b", 30)
    b.kill()
    (b.dir / "update.json").unlink()  # a look is due again
    wrong = upboard(rel.update(ca_file="", pin="00" * 32))
    refused(sim, wrong, "the server's certificate is not the pinned one (update.pin)")


def test_an_app_at_the_root_of_the_flash_updates_into_a_slot(sim, rel, upboard):
    # A board installed by mip (or laid out as 1.1 was): no app.json, the app in firmware/.
    rel.publish("1.1.1")
    sim.envoy.live = sim.steady(3000, -2600)
    b = upboard(slot=None)
    b.wait_for("update: 1.1.1 installed in slot a", 30)
    b.wait_for("diverter 1.1.1", 30)
    b.wait_for("update: 1.1.1 proved itself healthy and stays", 60)
    p = pointer(b)
    assert (p["active"], p["previous"], p["previous_version"]) == ("a", "", "1.1.0")
    assert (b.dir / "firmware").is_dir()  # the previous version, for diag.rollback()
