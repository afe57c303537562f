# pytest setup: the repository root (for `firmware` and `tools`) and the shared unit-test helpers.
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "host_tests", "unit"))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _keep_cwd():
    # Unit tests shared with MicroPython change into scratch folders with os.chdir.
    here = os.getcwd()
    yield
    os.chdir(here)
