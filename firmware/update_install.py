# Installing a checked release (update_boot.py) into the slot that is not running: room on flash
# first (a full flash: the old version stays and nothing is touched), then the slot emptied and
# each file streamed into it with its size and SHA-256 checked on the way (update_fetch.py), then
# every file read back from flash and hashed again. Only then boot.py and main.py (where they
# changed) and the pointer, each by an atomic rename (update_slot.py). A power cut at any moment
# leaves the running version's slot and pointer as they were until that last rename; the slot
# written, if it held the previous version, is first dropped from the pointer (no rollback into
# half a version). Loaded at boot for an install, then unloaded.
import hashlib
import os

from firmware import VERSION, console
from firmware.compat import const
from firmware.update_slot import (
    TRIAL_BOOTS,
    folder,
    other,
    overwriting,
    place_entry_points,
    running,
    swap,
)

# spare blocks left on flash after an install (littlefs needs some to work)
_MARGIN_BLOCKS = const(8)


def run(conn, m, board):
    """Install the manifest m from conn. (True, line) once the new version is in place (the
    caller restarts into it); (False, why) when nothing changed for the running version."""
    from firmware.update_fetch import why

    target = other(running())
    try:
        _room(target, m)
        if not overwriting(target):
            raise Refused("slot %s holds the way back and app.json could not be changed" % target)
        _write(conn, m, folder(target), board)
        _read_back(m, folder(target), board)
    except Exception as e:  # network, HTTP, a refusal, the flash: the old version stays
        return False, "update: %s not installed: %s; %s stays" % (m["version"], why(e), VERSION)
    place_entry_points(target)
    if not swap(target, m["version"], VERSION):
        return False, "update: %s not installed: app.json could not be saved; %s stays" % (
            m["version"],
            VERSION,
        )
    return True, "update: %s installed in slot %s; restarting into it, on trial for %d boots" % (
        m["version"],
        target,
        TRIAL_BOOTS,
    )


class Refused(Exception):
    pass


def _room(target, m):
    # The flash must hold the release beside the running version: what the target slot holds now
    # is freed first, so it counts as room.
    st = os.statvfs(".")
    block = st[0] or 4096
    free = st[4] * block + _used(folder(target), block)
    need = sum((size + block - 1) // block * block for _, size, _ in m["files"])
    need += _MARGIN_BLOCKS * block
    if free < need:
        raise Refused("flash full (it needs %d KB, %d KB are free)" % (need // 1024, free // 1024))


def _used(path, block):
    total = 0
    for name, kind in _entries(path):
        full = path + "/" + name
        if kind == 0x4000:
            total += _used(full, block) + block
        else:
            total += (os.stat(full)[6] + block - 1) // block * block
    return total


def _entries(path):
    # (name, 0x4000 for a folder or 0x8000 for a file) in path; none when it does not exist
    try:
        if hasattr(os, "ilistdir"):
            return [(e[0], e[1]) for e in os.ilistdir(path)]
        return [(n, 0x4000 if os.path.isdir(path + "/" + n) else 0x8000) for n in os.listdir(path)]
    except OSError:
        return []


def _clear(path):
    for name, kind in _entries(path):
        full = path + "/" + name
        if kind == 0x4000:
            _clear(full)
            os.rmdir(full)
        else:
            os.remove(full)


def _mkdirs(path):
    at = ""
    for part in path.split("/"):
        at = at + "/" + part if at else part
        try:
            os.mkdir(at)
        except OSError:
            pass  # it exists


def _write(conn, m, root, board):
    _clear(root)
    files = m["files"]
    for d in sorted(set(p[: p.rfind("/")] for p, _, _ in files if "/" in p)):
        _mkdirs(root + "/" + d)
    _mkdirs(root)
    total = sum(f[1] for f in files)
    console.log(
        "update: writing %s into %s: %d files, %d KB (the heater stays OFF)"
        % (m["version"], root, len(files), (total + 1023) // 1024)
    )
    buf = bytearray(512)
    done = shown = 0
    for path, size, digest in files:
        board.wdt_feed()
        with open(root + "/" + path, "wb") as out:
            got = conn.stream("%s/%s" % (m["version"], path), size, out, buf)
        if got != digest:
            raise Refused("%s is not the file the manifest signs (its SHA-256 differs)" % path)
        done += size
        if done * 4 // max(1, total) > shown and done < total:
            shown = done * 4 // max(1, total)
            console.log("update: %d%% written" % (done * 100 // max(1, total)))


def _read_back(m, root, board):
    # What is on flash now, not what was sent: a write the flash got wrong is caught here.
    buf = bytearray(512)
    mv = memoryview(buf)
    for path, size, digest in m["files"]:
        board.wdt_feed()
        h = hashlib.sha256()
        n = 0
        with open(root + "/" + path, "rb") as f:
            while True:
                k = f.readinto(buf)
                if not k:
                    break
                h.update(mv[:k])
                n += k
        if n != size or h.digest() != digest:
            raise Refused("%s reads back from flash differently (failing flash?)" % path)
