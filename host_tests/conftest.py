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


# Tests that run the firmware for simulated minutes or hours, or fuzz: `make quick` leaves them
# out (pytest -m "not slow"); `make test` runs everything.
SLOW_MODULES = (
    "test_faults",
    "test_soak",
    "test_replay",
    "test_replay_battery",
    "test_simulate",
    "test_flash_damage",
    "test_deploy_vboard",
)
SLOW_FIXTURES = ("board", "hostboard", "vboard")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs the firmware for a while, or fuzzes")


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if (
            module in SLOW_MODULES
            or "/fuzz/" in str(item.fspath)
            or any(f in SLOW_FIXTURES for f in getattr(item, "fixturenames", ()))
            or module.endswith("_e2e")
        ):
            item.add_marker(pytest.mark.slow)
