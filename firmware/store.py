# Small JSON files on flash (token, login attempts, energy, Envoy pin). Written only when the
# content changes, and atomically: a power cut leaves either the old file or the new one.
# littlefs renames over an existing file atomically; FAT would not (the ESP32 uses littlefs).
# Reading treats a file as untrusted: too big, not UTF-8, not JSON or not the expected type is
# the same as missing, with one line saying why.
import json
import os

from firmware import console
from firmware.compat import const

MAX_BYTES = const(4096)  # the files written here are under 2 KB
_ENOENT = const(2)


def read_bytes(path, limit):
    """(bytes, None); (None, None) when the file does not exist; (None, why) when it cannot be
    read or is over limit bytes. The size is checked first: a runaway file is never read, and
    a small one costs no more than its size (read(n) would take n bytes of heap at once)."""
    try:
        size = os.stat(path)[6]
        if size > limit:
            return None, "over %d bytes" % limit
        with open(path, "rb") as f:
            data = f.read(size + 1)
    except OSError as e:
        code = e.args[0] if e.args else None
        return None, (None if code == _ENOENT else "unreadable, error %s" % (code,))
    if len(data) > limit:  # it grew meanwhile
        return None, "over %d bytes" % limit
    return data, None


def text(data):
    """Untrusted bytes as str, if they are UTF-8 (RFC 3629), judged alike on the board and on
    a PC: MicroPython's decode() takes overlong forms, encoded surrogates and code points past
    U+10FFFF, which CPython refuses. UnicodeError otherwise. Every reader of untrusted text
    comes here: files on flash, config.json, HTTP headers and bodies, token claims."""
    if not utf8(data):
        raise UnicodeError("not UTF-8")
    return str(data, "utf-8")


def utf8(data):
    """Whether data (bytes) is UTF-8 (RFC 3629): shortest forms only, no surrogates, at most
    U+10FFFF. Text beyond ASCII is rare here: its check lives in strictjson, loaded for it."""
    if not len(data) or max(data) < 0x80:
        return True
    import sys

    loaded = "firmware.strictjson" in sys.modules  # at boot, for config.json
    from firmware import strictjson

    try:
        return strictjson.utf8(data)
    finally:
        if not loaded:
            from firmware.compat import unload

            unload("firmware.strictjson")


def read(path, kind=dict, limit=MAX_BYTES):
    """(object, None); (None, None) when the file does not exist; (None, why) when it is there
    but unusable. kind: the type the caller needs, or None for any JSON value."""
    data, why = read_bytes(path, limit)
    if data is None:
        return None, why
    try:
        data = text(data)
    except UnicodeError:  # CPython's UnicodeDecodeError is one too
        return None, "not UTF-8"
    try:
        obj = json.loads(data)
    except Exception:  # ValueError; CPython: RecursionError on deep nesting
        return None, "not JSON"
    if kind is not None and type(obj) is not kind:
        return None, "not an object" if kind is dict else "not a %s" % kind.__name__
    return obj, None


def load(path, kind=dict):
    """The stored object if it is a kind (None: any JSON value), else None. A file that exists but
    cannot be used is reported in one line and treated as missing."""
    obj, why = read(path, kind)
    if why:
        console.problem("store: %s is damaged (%s); ignoring it" % (path, why))
    return obj


def save(path, obj):
    """Write obj as JSON unless the file already holds it. True on success; a failure (flash
    full, read-only) is reported and the old file stays."""
    text = json.dumps(obj)
    try:
        with open(path) as f:
            if f.read(len(text) + 1) == text:
                return True
    except (OSError, UnicodeError):  # missing, or damaged: rewrite it
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
