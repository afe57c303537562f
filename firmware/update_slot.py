# Which version of the app runs: two app folders ("slots", app/a and app/b) and a small pointer,
# app.json, written only by store.save (one atomic rename on littlefs). An update writes only the
# slot that is not running; the swap is the pointer's rename, so a power cut at any moment leaves
# the old version or the new one to boot, never neither. A new version runs on trial: boot.py
# counts its boots here (with the code of the previous, proven version), the app marks it healthy
# (update_watch.py), and after TRIAL_BOOTS boots without that the previous version comes back and
# the failed one is never installed again. No pointer: the app at the root of the flash (a board
# installed by mip, or deployed by 1.1) is the one that runs. The pointer is untrusted input like
# every file on flash: a damaged one is named and the board boots what it finds.
import os

from firmware import store

POINTER = "app.json"
TRIAL_BOOTS = 3
FAILED_KEPT = 8
SLOTS = ("a", "b", "")  # "": the root of the flash
ENTRY_POINTS = ("boot.py", "main.py")


def folder(slot):
    return "app/" + slot if slot else ""


def where(slot):
    return "slot %s" % slot if slot else "the root of the flash"


def has_app(slot):
    try:
        os.stat((folder(slot) + "/" if slot else "") + "firmware")
        return True
    except OSError:
        return False


def running():
    """The slot this code was loaded from (its firmware folder's parent)."""
    f = __file__
    i = f.rfind("firmware/")
    head = f[: i - 1] if i > 0 else ""
    for slot in ("a", "b"):
        if head == "app/" + slot or head.endswith("/app/" + slot):
            return slot
    return ""


def other(slot):
    """The slot an update writes: the one that is not running."""
    return "b" if slot == "a" else "a"


def _short(v, limit=19):
    return v is None or (type(v) is str and len(v) <= limit)


def _problem(p):
    if p.get("active") not in SLOTS:
        return "its active slot is not a, b or the root"
    prev = p.get("previous")
    if prev is not None and (prev not in SLOTS or prev == p["active"]):
        return "its previous slot is not another slot"
    trial = p.get("trial")
    if trial is not None and (type(trial) is not int or not 0 <= trial <= 99):
        return "its trial count is not 0 to 99"
    if trial is not None and prev is None:
        return "it has a trial without a previous version"
    if not (_short(p.get("version")) and _short(p.get("previous_version"))):
        return "a version is not short text"
    failed = p.get("failed", [])
    if (
        type(failed) is not list
        or len(failed) > FAILED_KEPT
        or not all(type(v) is str and _short(v) for v in failed)
    ):
        return "its failed versions are not a short list"
    if not _short(p.get("note"), 240):
        return "its note is not short text"
    return None


def read():
    """(pointer, None); (None, None) without a pointer; (None, why) for a damaged one."""
    p, why = store.read(POINTER, dict, 1024)
    if p is None:
        return None, why
    why = _problem(p)
    return (None, why) if why else (p, None)


def failed_versions():
    p, _ = read()
    return p.get("failed", []) if p else []


def trial_version():
    """The version on trial now, or None."""
    p, _ = read()
    return p.get("version") if p and p.get("trial") is not None else None


# -- at boot (boot.py, with the code of the proven version) -------------------------------------


def at_boot(loaded):
    """The slot to run. loaded: the slot whose code boot.py loaded (the proven one: during a
    trial the previous version's). Counts a trial boot; after TRIAL_BOOTS of them, restores the
    previous version. Prints what it decides."""
    p, why = read()
    if p is None:
        if why:
            print(
                "boot: %s is damaged (%s); running the app in %s" % (POINTER, why, where(loaded))
            )
        return loaded
    active = p["active"]
    if not has_app(active):
        print(
            "boot: %s names %s, which holds no app; running %s"
            % (POINTER, where(active), where(loaded))
        )
        return loaded
    trial = p.get("trial")
    if trial is None:
        return active
    if trial >= TRIAL_BOOTS:
        back = roll_back(p, "did not prove itself healthy in %d boots" % TRIAL_BOOTS)
        return active if back is None else back
    p["trial"] = trial + 1
    if not store.save(POINTER, p):
        # A trial that cannot be counted cannot be bounded: the proven version runs this time.
        print(
            "boot: the trial boot of %s could not be counted; running %s"
            % (p["version"], where(loaded))
        )
        return loaded
    print("boot: %s on trial, boot %d of %d" % (p["version"], trial + 1, TRIAL_BOOTS))
    return active


def roll_back(p, why, asked=False):
    """Back to the previous version: the pointer names it again, the one left is recorded as
    failed, and boot.py and main.py are the previous version's again. Returns its slot, or None
    when it cannot (no previous app on flash)."""
    prev = p.get("previous")
    if prev is None or not has_app(prev):
        print(
            "boot: %s %s, but there is no previous version on flash to go back to"
            % (p["version"], why)
        )
        return None
    left = p.get("version") or "?"
    line = "update: back to %s from %s: %s; %s is not installed again" % (
        p.get("previous_version") or "the previous version",
        left,
        why,
        left,
    )
    failed = [v for v in p.get("failed", []) if v != left] + [left]
    new = {
        "active": prev,
        "previous": None,
        "version": p.get("previous_version"),
        "previous_version": None,
        "trial": None,
        "failed": failed[-FAILED_KEPT:],
        "note": line[:240],
    }
    place_entry_points(prev)
    if not store.save(POINTER, new):
        line += " (for this boot only: app.json could not be saved)"
    if not asked:
        print("boot: " + line)
        _last_words(line, left)
    return prev


def _last_words(line, left):
    # The rollback goes into the last words, which the next run shows (lastwords.py).
    words = store.load("lastwords.json") or {}
    lines = words.get("lines")
    lines = [x for x in lines if type(x) is str] if type(lines) is list else []
    cause = words.get("cause")
    cause = cause if type(cause) is str else "the trial of " + left
    store.save("lastwords.json", {"cause": cause, "lines": (lines + [line])[-8:]})


# -- from the app -------------------------------------------------------------------------------


def healthy(version):
    """The version on trial proved itself: it stays. A line for the console, or None."""
    p, _ = read()
    if p is None or p.get("trial") is None or p.get("version") != version:
        return None
    p["trial"] = None
    p["note"] = None
    if not store.save(POINTER, p):
        return None
    return "update: %s proved itself healthy and stays; %s is kept for diag.rollback()" % (
        version,
        p.get("previous_version") or "the previous version",
    )


def swap(slot, version, installed, here=None):
    """The installer, once slot holds the new version: the atomic swap. The running version (in
    here, default: this code's slot) becomes the previous one, and the new one starts on trial.
    True when the pointer was saved."""
    p, _ = read()
    new = {
        "active": slot,
        "previous": running() if here is None else here,
        "version": version,
        "previous_version": installed,
        "trial": 0,
        "failed": p.get("failed", []) if p else [],
        "note": None,
    }
    return store.save(POINTER, new)


def overwriting(slot):
    """The installer, before it empties slot: a pointer that keeps slot as the previous version
    stops naming it (a rollback must never go to a half-written slot). False when it cannot:
    slot is a trial's way back, or the pointer could not be saved."""
    p, _ = read()
    if p is None or p.get("previous") != slot:
        return True
    if p.get("trial") is not None:
        return False
    p["previous"] = p["previous_version"] = None
    return store.save(POINTER, p)


def deployed(slot, version):
    """tools/deploy.py, after a USB deploy into slot: it runs from now on, no trial; the other
    slot, if it holds an app, is kept as the previous version."""
    p, _ = read()
    old = p.get("active") if p else None
    keep = old if old is not None and old != slot and has_app(old) else None
    new = {
        "active": slot,
        "previous": keep,
        "version": version,
        "previous_version": p.get("version") if keep is not None else None,
        "trial": None,
        "failed": [v for v in (p.get("failed", []) if p else []) if v != version],
        "note": None,
    }
    return store.save(POINTER, new)


def place_entry_points(slot):
    """boot.py and main.py at the root of the flash become slot's copies where they differ, each
    by an atomic rename (both work with either slot)."""
    if not slot:
        return
    for name in ENTRY_POINTS:
        src = folder(slot) + "/" + name
        try:
            os.stat(src)
        except OSError:
            continue  # a slot without its own copies (an older layout): the root's stay
        try:
            if not _same(src, name):
                _copy(src, name)
        except OSError as e:
            print("update: could not place %s from %s (%s)" % (name, where(slot), e))


def _same(a, b):
    try:
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                x, y = fa.read(512), fb.read(512)
                if x != y:
                    return False
                if not x:
                    return True
    except OSError:
        return False


def _copy(src, dst):
    tmp = dst + ".tmp"
    with open(src, "rb") as fs, open(tmp, "wb") as fd:
        while True:
            chunk = fs.read(512)
            if not chunk:
                break
            fd.write(chunk)
    os.rename(tmp, dst)
