# A release's manifest (tools/release.py writes it): what the release is, what it may update,
# and every file with its size and SHA-256. It is read line by line as it arrives, and used only
# once its signature checked out; it is still checked as untrusted input: a wrong shape, a path
# outside the app's own files (no "..", nothing absolute, no other folder) or a size beyond the
# caps refuses the whole release. Pure logic (tested on both runtimes); loaded for a look or an
# install.
from firmware.compat import const, json_loads

_FORMAT = const(1)
NAME = "envoy-diverter"
MAX_BYTES = 16384  # the manifest itself; a release of 60 files is about 7 KB
MAX_FILES = 96
MAX_FILE = 65536  # bytes, each file (the largest .mpy is about 8 KB)
_MAX_TOTAL = const(393216)  # bytes, all the files (a release is about 110 KB)
# The files a release cannot do without: the entry points and what boots and proves it.
NEEDED = ("__init__", "app", "board", "update_slot")
_NAME = const("abcdefghijklmnopqrstuvwxyz0123456789_")


def version(text):
    """'1.2.0' -> (1, 2, 0): 1 to 4 whole numbers of at most 4 digits; ValueError otherwise."""
    if type(text) is not str or not 0 < len(text) <= 19:
        raise ValueError("a version must be text like 1.2.0")
    parts = text.split(".")
    if len(parts) > 4 or any(not 0 < len(p) <= 4 or not p.isdigit() for p in parts):
        raise ValueError("%r is not a version like 1.2.0" % text[:20])
    return tuple(int(p) for p in parts)


def check_path(path):
    """ValueError unless path is one of the app's own file names: boot.py, main.py,
    firmware/NAME.mpy (or .py, or .txt: a table), firmware/certs/NAME.der."""
    if path in ("boot.py", "main.py"):
        return
    if type(path) is str and path.startswith("firmware/"):
        rest = path[9:]
        if rest.startswith("certs/"):
            stem, ok = rest[6:], rest.endswith(".der")
            stem = stem[:-4]
        else:
            ok = rest.endswith(".mpy") or rest.endswith(".py") or rest.endswith(".txt")
            stem = rest[: rest.rfind(".")]
        if ok and 0 < len(stem) <= 32 and all(c in _NAME for c in stem):
            return
    raise ValueError(
        "%r is not one of the app's file names" % (path if type(path) is str else "?")
    )


def _text(m, key, limit, default=None):
    v = m.get(key, default)
    if type(v) is not str or len(v) > limit:
        raise ValueError("%s is not text of at most %d characters" % (key, limit))
    return v


def _file(entry):
    if type(entry) is not dict or sorted(entry) != ["path", "sha256", "size"]:
        raise ValueError("a file entry is not {path, size, sha256}")
    path, size, digest = entry["path"], entry["size"], entry["sha256"]
    check_path(path)
    if type(size) is not int or not 0 <= size <= MAX_FILE:
        raise ValueError("%s: size is not 0 to %d bytes" % (path, MAX_FILE))
    if (
        type(digest) is not str
        or len(digest) != 64
        or any(c not in "0123456789abcdef" for c in digest)
    ):
        raise ValueError("%s: sha256 is not 64 hex digits" % path)
    return path, size, bytes.fromhex(digest)


def _header(m):
    if type(m) is not dict or m.get("format") != _FORMAT or m.get("name") != NAME:
        raise ValueError("not an Envoy Diverter manifest of format %d" % _FORMAT)
    out = {
        "version": _text(m, "version", 19),
        "min_from": _text(m, "min_from", 19),
        "notes": _text(m, "notes", 256, ""),
        "summary": _text(m, "summary", 255, ""),
        "key": _text(m, "key", 16, ""),
    }
    version(out["version"])
    version(out["min_from"])
    if out["notes"] and not out["notes"].startswith("https://"):
        raise ValueError("notes is not an https:// address")
    return out


def _json(line):
    try:
        return json_loads(line)
    except MemoryError:
        raise
    except Exception:  # ValueError, UnicodeError; CPython: RecursionError
        raise ValueError("not JSON")


FILES = b', "files": ['
_LINE_MAX = const(512)


class Reader:
    """A manifest read as it streams in (the whole of it is never in RAM): the layout that
    tools/release.py writes and signs, a header line, one file a line, then ]}. write() takes
    the bytes in any pieces; result() is the checked manifest (a dict: version, min_from, notes,
    summary, key, files: [(path, size, sha256 as 32 bytes)]) or ValueError. Only a manifest
    whose signature checks out may be used; until then key is what the header claims."""

    def __init__(self):
        self.m = None
        self.files = []
        self.error = None
        self.done = False
        self.size = 0
        self.part = bytearray()
        self.key = None

    def write(self, chunk):
        self.size += len(chunk)
        if self.size > MAX_BYTES:
            self.error = self.error or "over %d bytes" % MAX_BYTES
        if self.error:
            return
        start = 0
        while True:
            i = bytes(chunk[start:]).find(b"\n") if start < len(chunk) else -1
            if i < 0:
                self.part += chunk[start:]
                if len(self.part) > _LINE_MAX:
                    self.error = "a line is over %d bytes" % _LINE_MAX
                return
            self.part += chunk[start : start + i]
            start += i + 1
            line, self.part = bytes(self.part), bytearray()
            try:
                self._line(line)
            except ValueError as e:
                self.error = str(e)
                return

    def _line(self, line):
        if len(line) > _LINE_MAX:
            raise ValueError("a line is over %d bytes" % _LINE_MAX)
        if self.done:
            raise ValueError("text after the end")
        if self.m is None:
            if not line.endswith(FILES):
                raise ValueError("not an Envoy Diverter manifest of format %d" % _FORMAT)
            raw = _json(line[: -len(FILES)] + b"}")
            if type(raw) is dict and type(raw.get("key")) is str:
                self.key = raw["key"][:16]
            self.m = _header(raw)
        elif line == b"]}":
            self.done = True
        else:
            if len(self.files) >= MAX_FILES:
                raise ValueError("files is not a list of 1 to %d files" % MAX_FILES)
            line = line.strip()
            self.files.append(_file(_json(line[:-1] if line.endswith(b",") else line)))

    def result(self):
        if self.m is None and not self.error:
            self.error = "not an Envoy Diverter manifest of format %d" % _FORMAT
        if self.part and not self.error:
            self.error = "the manifest does not end with a new line"
        if self.error:
            raise ValueError(self.error)
        if not self.done:
            raise ValueError("the manifest ends early")
        if not self.files:
            raise ValueError("files is not a list of 1 to %d files" % MAX_FILES)
        _check_set(self.files)
        self.m["files"] = self.files
        return self.m


def parse(data):
    """The checked manifest from its bytes, all at once (Reader's result)."""
    r = Reader()
    r.write(data)
    return r.result()


def _check_set(files):
    paths = [f[0] for f in files]
    if len(set(paths)) != len(paths):
        raise ValueError("a file is listed twice")
    if sum(f[1] for f in files) > _MAX_TOTAL:
        raise ValueError("the files are over %d bytes in all" % _MAX_TOTAL)
    modules = [p[:-3] for p in paths if p.endswith(".py")] + [
        p[:-4] for p in paths if p.endswith(".mpy")
    ]
    if len(set(modules)) != len(modules):
        raise ValueError("a module comes both as .py and as .mpy (the .py would hide the .mpy)")
    for name in ("boot", "main") + tuple("firmware/" + n for n in NEEDED):
        if name not in modules:
            raise ValueError("%s is missing" % name)


def installable(m, installed, failed):
    """Why the checked manifest m cannot replace the installed version, or None. failed: the
    versions that failed their trial on this board (never installed again)."""
    new, have = version(m["version"]), version(installed)
    if new <= have:
        return "%s is not newer than this board's %s (an old release, or a replay)" % (
            m["version"],
            installed,
        )
    if have < version(m["min_from"]):
        return (
            "%s updates from %s or later only, and this board has %s: install %s first, or by USB"
            % (
                m["version"],
                m["min_from"],
                installed,
                m["min_from"],
            )
        )
    if m["version"] in failed:
        return (
            "%s failed its trial on this board before, so it is not installed again" % m["version"]
        )
    return None


def file_url(base, m, path):
    """Where a release's file is: beside the manifest, in a folder named after its version."""
    return "%s/%s/%s" % (base.rstrip("/"), m["version"], path)
