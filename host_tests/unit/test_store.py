# store.py: write on change only, atomically; damage and crashes leave a usable file.
import os

from support import tmpdir

from firmware import store


def test_save_and_load():
    path = tmpdir() + "/state.json"
    assert store.load(path) is None
    assert store.save(path, {"a": 1})
    assert store.load(path) == {"a": 1}


def test_unchanged_content_is_not_rewritten():
    path = tmpdir() + "/state.json"
    store.save(path, {"a": 1})
    before = os.stat(path)
    with open(path + ".tmp", "w") as f:
        f.write("marker")  # a save that writes would replace this temp file
    assert store.save(path, {"a": 1})
    with open(path + ".tmp") as f:
        assert f.read() == "marker"
    assert os.stat(path)[6] == before[6]


def test_a_crash_between_temp_write_and_rename_leaves_the_old_file():
    path = tmpdir() + "/token.json"
    store.save(path, {"token": "old"})
    with open(path + ".tmp", "w") as f:  # the power died after this write, before the rename
        f.write('{"token": "ne')
    assert store.load(path) == {"token": "old"}
    assert store.save(path, {"token": "new"})
    assert store.load(path) == {"token": "new"}


def test_a_damaged_file_is_ignored():
    path = tmpdir() + "/state.json"
    with open(path, "w") as f:
        f.write('{"energy": ')
    assert store.load(path) is None


def test_a_failed_write_keeps_the_old_file():
    folder = tmpdir()
    path = folder + "/missing-dir/state.json"  # cannot be created: like a full or read-only flash
    assert store.save(path, {"a": 2}) is False
    assert store.load(path) is None
