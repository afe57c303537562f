# Every host tool with a main() answers --help with its usage, exits 0 and does nothing else.
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT

NOT_TOOLS = {"fixtures", "upy_lib", "data", "__pycache__"}


def modules_with_main():
    """Every module under tools/ with a main(), by the name `python -m` takes."""
    found = []
    for folder, dirs, names in os.walk(os.path.join(ROOT, "tools")):
        dirs[:] = [d for d in dirs if d not in NOT_TOOLS]
        for name in names:
            path = os.path.join(folder, name)
            if name.endswith(".py") and re.search(r"^def main\(", open(path).read(), re.M):
                dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found.append(dotted.removesuffix(".__main__").removesuffix(".__init__"))
    return sorted(found)


TOOLS = modules_with_main()
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".git", ".venv", ".venv-deploy"}


def snapshot(top):
    """Every file under top with its size and modification time."""
    seen = {}
    for folder, dirs, names in os.walk(top):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for n in names:
            st = os.stat(os.path.join(folder, n))
            seen[os.path.join(folder, n)] = (st.st_size, st.st_mtime_ns)
    return seen


def test_the_list_of_tools_is_complete():
    commands = {"deploy", "envoy_pin", "envoy_read", "board.mpy", "sim", "token", "bench.heap"}
    assert {"tools." + name for name in commands} <= set(TOOLS)


@pytest.mark.parametrize("tool", TOOLS)
def test_help_prints_usage_and_does_nothing_else(tool, tmp_path):
    before = snapshot(ROOT)
    r = subprocess.run(
        [sys.executable, "-m", tool, "--help"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=ROOT, PYTHONDONTWRITEBYTECODE="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("usage: ") and "--help" in r.stdout and r.stderr == ""
    assert list(tmp_path.iterdir()) == []
    assert snapshot(ROOT) == before
