# The test tree: pytest imports each test module by its base name (no packages), so two folders
# holding one name make the second fail to collect.
import os

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_each_test_module_has_its_own_name():
    seen = {}
    for folder, _, files in os.walk(HERE):
        for name in files:
            if name.startswith("test_") and name.endswith(".py"):
                seen.setdefault(name, []).append(os.path.relpath(folder, HERE))
    twice = {name: where for name, where in seen.items() if len(where) > 1}
    assert not twice, twice
