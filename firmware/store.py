# Small JSON files on flash (token, login attempts, energy, Envoy pin). Written only when the
# content changes, and atomically: a power cut leaves either the old file or the new one.
# littlefs renames over an existing file atomically; FAT would not (the ESP32 uses littlefs).
import json
import os

from firmware import console


def load(path):
    """The stored object, or None when the file is missing or unreadable (reported)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    try:
        return json.loads(text)
    except ValueError:
        console.problem("store: %s is damaged; ignoring it" % path)
        return None


def save(path, obj):
    """Write obj as JSON unless the file already holds it. True on success; a failure (flash
    full, read-only) is reported and the old file stays."""
    text = json.dumps(obj)
    try:
        with open(path) as f:
            if f.read() == text:
                return True
    except OSError:
        pass
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)
        return True
    except OSError as e:
        console.problem("store: could not save %s (%s); the old copy is kept" % (path, _why(e)))
        try:
            os.remove(tmp)
        except OSError:
            pass
        return False


def remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


ENOSPC = 28  # the same on Linux and ESP-IDF; MicroPython's errno module does not name it


def _why(e):
    code = e.args[0] if e.args else None
    if code == ENOSPC:
        return "flash full"
    return "error %s" % (code,)
