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


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def console_lines(fn, *args):
    """fn(*args) with the console's problem lines captured -> (result, lines)."""
    from firmware import console

    seen = []
    real = console.problem
    console.problem = seen.append
    try:
        return fn(*args), seen
    finally:
        console.problem = real


def test_a_non_utf8_byte_is_a_damaged_file_with_one_line():
    # MicroPython raised UnicodeError from the text read: the app died and restarted forever.
    folder = tmpdir()
    for name in ("token.json", "state.json", "cloud.json", "envoy_pin.json"):
        path = folder + "/" + name
        write(path, b'{"token": "ab\xffcd"}')
        got, lines = console_lines(store.load, path)
        assert got is None
        assert lines == ["store: %s is damaged (not UTF-8); ignoring it" % path], lines


def test_wrong_top_level_types_are_absent():
    path = tmpdir() + "/state.json"
    for text in (b"[]", b'"x"', b"null", b"12", b"true", b"1.5"):
        write(path, text)
        got, lines = console_lines(store.load, path)
        assert got is None, text
        assert lines == ["store: %s is damaged (not an object); ignoring it" % path], lines
    write(path, b"[1]")
    assert store.load(path, list) == [1]
    assert store.load(path, None) == [1]
    assert store.read(path, str) == (None, "not a str")


def test_a_damaged_file_says_why_once():
    path = tmpdir() + "/state.json"
    write(path, b'{"energy": ')
    got, lines = console_lines(store.load, path)
    assert got is None and lines == ["store: %s is damaged (not JSON); ignoring it" % path]
    got, lines = console_lines(store.load, tmpdir() + "/missing.json")
    assert got is None and lines == []  # a missing file is normal: no line


def test_a_huge_file_is_not_read_whole():
    path = tmpdir() + "/state.json"
    with open(path, "wb") as f:
        f.write(b'{"a": "')
        chunk = b"x" * 4096
        for _ in range(256):  # 1 MB: more than an ESP32's whole heap
            f.write(chunk)
        f.write(b'"}')
    got, lines = console_lines(store.load, path)
    assert got is None
    assert lines == ["store: %s is damaged (over %d bytes); ignoring it" % (path, store.MAX_BYTES)]
    write(path, b'{"a": "%s"}' % (b"x" * 5000))
    assert store.read(path)[1] == "over 4096 bytes"
    assert store.read(path, limit=8192)[0] is not None  # the cap is what refused it


def test_deep_nesting_is_not_json_here():
    path = tmpdir() + "/state.json"
    write(path, b"[" * 2000 + b"]" * 2000)  # CPython's parser recurses: RecursionError
    obj, why = store.read(path, None)  # MicroPython parses it; either way, no exception
    assert (obj is None and why == "not JSON") or (type(obj) is list and why is None)
    assert store.load(path) is None


def test_save_replaces_a_damaged_file():
    path = tmpdir() + "/state.json"
    write(path, b"\xff\xfe{")
    assert store.save(path, {"a": 1})
    assert store.load(path) == {"a": 1}
