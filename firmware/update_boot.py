# Updates at boot: the look for a new release and its install run here, before the diverter loads,
# in a clean heap and with the heater OFF (like a cloud login, bootlogin.py). A TLS session with
# a CA check, the manifest and the signature check would not fit beside the running diverter with
# every feature on (README: the heap), so when a look falls due the running board restarts for
# it while the heater is off (update_watch.py). A look: manifest.json and manifest.sig from
# update.url, the signature checked against firmware/release_key.py, then the manifest's rules
# (newer, min_from, not failed before). An install (update_install.py) when asked for
# (diag.update(), Home Assistant) or with update.auto. What happened goes to update.json, for the
# REPL and MQTT. After a look the board restarts (an install: into the new version), so that the
# diverter never starts in the heap the look fragmented (README: the heap).
import gc

from firmware import VERSION, clock, console, store
from firmware.compat import const, unload

FILE = "update.json"  # update_ask.py reads it too
_MAX_TRIES = const(3)  # installs of one version that did not finish (power cuts), then it waits
_SIG_BYTES = const(1024)


def record():
    """update.json, checked: {checked, offer, said, want, tries, tried}, each None or 0 when
    missing or damaged."""
    rec = store.load(FILE) or {}
    offer = rec.get("offer")
    if offer is None or not (
        type(offer) is dict
        and all(type(offer.get(k)) is str for k in ("version", "notes", "summary"))
    ):
        rec["offer"] = None
    for key in ("checked", "tries"):
        if type(rec.get(key)) is not int:
            rec[key] = 0
    for key in ("said", "want", "tried"):
        if type(rec.get(key)) is not str:
            rec[key] = None
    return rec


def run(cfg, board):
    """startup.py: look and install when due. Returns (the uptime at which the next look is
    due, or None without update.url; True when a look ran and is recorded, so that the next boot
    does not look again: the caller then restarts, for the diverter to start in a heap the look
    did not fragment)."""
    u = cfg["update"]
    rec = record()
    if not u["url"]:
        if rec["want"]:
            console.problem("update: an update was asked for, but update.url is empty")
            rec["want"] = None
            store.save(FILE, rec)
        return None, False
    if not clock.is_set(board.now()):
        _online(cfg, board)  # the time decides whether a look is due (a power cut forgets it)
    checked = rec["checked"]
    if rec["want"] or _due(rec, board.now(), u):
        try:
            _look(cfg, board, u, rec)
        except Exception as e:  # MemoryError: the boot goes on, the old version stays
            console.problem(
                "update: the look failed (%r); the next one in %g h" % (e, u["check_h"])
            )
        finally:
            unload(
                "firmware.update_fetch",
                "firmware.roots",
                "firmware.update_install",
                "firmware.update_manifest",
                "firmware.update_sig",
                "firmware.release_key",
            )
            gc.collect()
    looked = rec["checked"] != checked and store.save(FILE, rec)  # unchanged: no new write
    return board.uptime() + _wait(rec, board.now(), u), looked


def _due(rec, now, u):
    # Without the time, no look: the server's certificate cannot be checked.
    return clock.is_set(now) and not rec["checked"] <= now < rec["checked"] + u["check_h"] * 3600


def _wait(rec, now, u):
    # Seconds to the next look: check_h after the last one (an hour when it could not happen,
    # check_h without the time: NTP that fails would otherwise restart the board hourly).
    every = int(u["check_h"] * 3600)
    if not clock.is_set(now):
        return every
    if not rec["checked"] or now < rec["checked"]:
        return min(every, 3600)
    left = rec["checked"] + every - now
    return left if left > 0 else 3600


def _online(cfg, board):
    w = cfg["wifi"]
    if not board.wifi_up() and not board.wifi_connect(w["ssid"], w["password"]):
        return False
    return clock.is_set(board.now()) or board.sync_clock()


def _say(rec, line, problem=False):
    (console.problem if problem else console.log)(line)
    rec["said"] = line[:200]


def _look(cfg, board, u, rec):
    if not _online(cfg, board):
        console.log(
            "update: a look is due, but Wi-Fi or the clock is not ready (the server's "
            "certificate needs the time); at a later boot"
        )
        return
    want = rec["want"]
    rec["want"] = None
    rec["checked"] = board.now()
    if want:
        rec["tries"] = 0  # an explicit request starts afresh
    conn = None
    try:
        m, conn = _manifest(u, board, rec)
        if m is not None:
            _decide(m, conn, board, u, rec, want)
    finally:
        if conn is not None:
            conn.close()
        store.save(FILE, rec)


def _manifest(u, board, rec):
    # (the checked manifest or None (said why), the connection for the files or None)
    from firmware import release_key
    from firmware.update_sig import key_id, opened

    if release_key.N is None:
        _say(
            rec,
            "update: this firmware trusts no release key (firmware/release_key.py is "
            "empty), so nothing is installed; see the README, Updates",
            True,
        )
        return None, None
    from firmware.update_fetch import Release, why
    from firmware.update_manifest import MAX_BYTES, Reader

    console.log("update: looking at %s (this is %s)" % (u["url"], VERSION))
    conn = None
    try:
        conn = Release(u, board)
        sig = bytes(conn.get("manifest.sig", _SIG_BYTES))
        signed = opened(sig, release_key.N, release_key.BYTES)
        del sig
        reader = Reader()  # the manifest, parsed as it streams through SHA-256: never whole
        digest = conn.stream("manifest.json", None, reader, bytearray(512), MAX_BYTES)
    except Exception as e:  # network, TLS, HTTP, Refused: the server is untrusted
        _say(
            rec,
            "update: could not look at %s: %s; the next look in %g h"
            % (u["url"], why(e), u["check_h"]),
            True,
        )
        return None, conn
    from firmware.update_sig import signs

    ours = key_id(release_key.N, release_key.BYTES)
    if not signs(signed, digest, release_key.BYTES):
        claimed = reader.key
        if claimed and claimed != ours:
            text = "it is signed by another key (%s), and this board trusts %s" % (claimed, ours)
        else:
            text = "its signature does not match (a damaged or forged manifest)"
        _say(
            rec,
            "update: refused the release at %s: %s; nothing was installed" % (u["url"], text),
            True,
        )
        return None, conn
    try:
        return reader.result(), conn
    except ValueError as e:
        _say(rec, "update: refused the signed manifest at %s: %s" % (u["url"], e), True)
        return None, conn


def _decide(m, conn, board, u, rec, want):
    from firmware.update_manifest import installable
    from firmware.update_slot import failed_versions, trial_version

    v = m["version"]
    why = installable(m, VERSION, failed_versions())
    if why:
        rec["offer"] = None
        if v == VERSION:
            _say(rec, "update: %s is the latest" % VERSION)
        else:
            _say(rec, "update: nothing to install: " + why, v not in failed_versions())
        return
    rec["offer"] = {"version": v, "notes": m["notes"], "summary": m["summary"]}
    if not (want or u["auto"]):
        _say(
            rec,
            "update: %s is available (this is %s)%s; to install it: diag.update(), Home "
            "Assistant, or update.auto"
            % (v, VERSION, "; notes: " + m["notes"] if m["notes"] else ""),
        )
        return
    if want and want != "latest" and want != v:
        _say(
            rec,
            "update: the server now offers %s, not %s as announced: nothing installed; "
            "ask again to install %s" % (v, want, v),
            True,
        )
        return
    trial = trial_version()
    if trial is not None:
        _say(rec, "update: %s is still on trial; %s waits until it proves itself" % (trial, v))
        return
    if rec["tried"] == v and rec["tries"] >= _MAX_TRIES:
        _say(
            rec,
            "update: %d installs of %s did not finish; ask again to retry" % (_MAX_TRIES, v),
            True,
        )
        return
    rec["tried"], rec["tries"] = v, (rec["tries"] if rec["tried"] == v else 0) + 1
    rec["said"] = "installing %s" % v
    if not store.save(FILE, rec):
        console.problem("update: not installing: the attempt could not be recorded on flash")
        return
    from firmware import update_install

    ok, line = update_install.run(conn, m, board)
    conn.close()
    _say(rec, line, not ok)
    if ok:  # into the new version, on trial
        rec["tried"], rec["tries"] = None, 0
        store.save(FILE, rec)
        board.reset()
