# Every host tool with a main() answers --help with its usage, exits 0 and does nothing else.
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT

TOOLS = sorted(
    name[:-3]
    for name in os.listdir(os.path.join(ROOT, "tools"))
    if name.endswith(".py")
    and re.search(r"^def main\(", open(os.path.join(ROOT, "tools", name)).read(), re.M)
)
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
    assert {"deploy", "envoy_pin", "envoy_read", "mpy", "sim", "token"} <= set(TOOLS)


@pytest.mark.parametrize("tool", TOOLS)
def test_help_prints_usage_and_does_nothing_else(tool, tmp_path):
    before = snapshot(ROOT)
    r = subprocess.run(
        [sys.executable, "-m", "tools." + tool, "--help"],
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
