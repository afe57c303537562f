# A release's manifest (firmware/update_manifest.py), on both runtimes: the shape, the file names
# a release may write, the caps, and which releases a board may install.
import json

from support import contains, raises

from firmware import update_manifest as um

SHA = "ab" * 32


def files(*paths):
    base = ["boot.py", "main.py", "firmware/__init__.mpy", "firmware/app.mpy"]
    base += ["firmware/board.mpy", "firmware/update_slot.mpy"]
    return [{"path": p, "size": 100, "sha256": SHA} for p in base + list(paths)]


def layout(m):
    # What tools/release.py writes (release.manifest_bytes): the header, one file a line, ]}.
    head = dict((k, v) for k, v in m.items() if k != "files")
    lines = [json.dumps(head)[:-1] + ', "files": [']
    files = m.get("files")
    if type(files) is list:
        lines += ["  " + json.dumps(f) + "," for f in files]
        if files:
            lines[-1] = lines[-1][:-1]
    else:
        lines.append(json.dumps(files))
    return ("\n".join(lines) + "\n]}\n").encode()


def manifest(**kw):
    m = {
        "format": 1,
        "name": "envoy-diverter",
        "version": "1.2.0",
        "min_from": "1.1.0",
        "notes": "https://example.com/notes",
        "summary": "fixes",
        "key": "0123456789abcdef",
        "files": files("firmware/certs/isrg_root_x1.der"),
    }
    m.update(kw)
    return layout(m)


def refused(data):
    return str(raises(ValueError, um.parse, data))


def test_a_good_manifest_parses():
    m = um.parse(manifest())
    assert m["version"] == "1.2.0" and m["min_from"] == "1.1.0" and m["key"] == "0123456789abcdef"
    assert ("firmware/certs/isrg_root_x1.der", 100, bytes.fromhex(SHA)) in m["files"]
    assert len(m["files"]) == 7


def test_it_reads_in_pieces_of_any_size_as_it_streams_in():
    data = manifest()
    for piece in (1, 7, 100, 511, 512, len(data)):
        r = um.Reader()
        for i in range(0, len(data), piece):
            r.write(memoryview(data)[i : i + piece])
        assert r.key == "0123456789abcdef"
        assert r.result()["files"] == um.parse(data)["files"], piece


def test_anything_but_the_release_tools_layout_is_refused():
    whole = json.dumps({"format": 1, "name": "envoy-diverter", "files": []}).encode() + b"\n"
    contains(refused(whole), "not an Envoy Diverter manifest")
    good = manifest()
    contains(refused(good[:-3]), "the manifest ends early")
    contains(refused(good[:-1]), "does not end with a new line")
    contains(refused(good + b"{}\n"), "text after the end")
    long = good.replace(b'"summary": "fixes"', b'"summary": "' + b"x" * 600 + b'"')
    contains(refused(long), "a line is over 512 bytes")
    as_list = [["boot.py", 100, SHA]] + files()[1:]
    contains(refused(manifest(files=as_list)), "not {path, size, sha256}")


def test_versions_compare_as_numbers():
    assert um.version("1.10.0") > um.version("1.9.9") and um.version("2") == (2,)
    for bad in ("", "1..2", "1.2.x", "v1.2", "1.2.3.4.5", "-1.2", "1.2 ", "12345.1", 12, None):
        raises(ValueError, um.version, bad)


def test_only_the_apps_own_file_names_are_accepted():
    for good in (
        "boot.py",
        "main.py",
        "firmware/x_1.mpy",
        "firmware/x.py",
        "firmware/ha_entities.txt",
        "firmware/certs/a.der",
    ):
        um.check_path(good)
    bad = (
        "../boot.py",
        "/boot.py",
        "firmware/../../config.json",
        "firmware/../boot.py",
        "config.json",
        "token.json",
        "firmware/sub/x.mpy",
        "firmware/certs/x.pem",
        "firmware/x.json",
        "firmware/certs/x.txt",
        "firmware/X.mpy",
        "firmware/.mpy",
        "firmware/a b.mpy",
        "firmware/certs/../x.der",
        "lib/x.mpy",
        "app.json",
        "firmware/x.mpy\x00",
        "",
        None,
    )
    for path in bad:
        raises(ValueError, um.check_path, path)
        contains(refused(manifest(files=files(path))), "is not one of the app's file names")


def test_bad_shapes_are_refused_with_a_reason():
    contains(refused(b"not json"), "not an Envoy Diverter manifest")
    contains(refused(b"\xff\xfe"), "not an Envoy Diverter manifest")
    bad_header = b'{"format": 1, "name": "envoy-diverter", \xff, "files": [\n]}\n'
    contains(refused(bad_header), "not JSON")
    contains(refused(b"[]"), "not an Envoy Diverter manifest")
    contains(refused(manifest(format=2)), "format 1")
    contains(refused(manifest(name="other")), "format 1")
    contains(refused(manifest(version="one")), "not a version")
    contains(refused(manifest(min_from=None)), "min_from is not text")
    contains(refused(manifest(notes="http://example.com")), "notes is not an https:// address")
    contains(refused(manifest(summary="x" * 256)), "summary is not text")
    contains(refused(manifest(files=[])), "files is not a list")
    contains(refused(manifest(files={})), "not {path, size, sha256}")
    contains(refused(b" " * (um.MAX_BYTES + 1)), "over 16384 bytes")


def test_bad_file_entries_are_refused():
    def with_entry(entry):
        return refused(manifest(files=files() + [entry]))

    contains(with_entry({"path": "firmware/x.mpy", "size": 1}), "not {path, size, sha256}")
    extra = {"path": "firmware/x.mpy", "size": 1, "sha256": SHA, "mode": 7}
    contains(with_entry(extra), "not {path, size, sha256}")
    for size in (-1, um.MAX_FILE + 1, 1.5, "1", True):
        entry = {"path": "firmware/x.mpy", "size": size, "sha256": SHA}
        contains(with_entry(entry), "size is not")
    for digest in ("AB" * 32, "ab" * 31, "zz" * 32, 5):
        entry = {"path": "firmware/x.mpy", "size": 1, "sha256": digest}
        contains(with_entry(entry), "sha256 is not 64 hex digits")
    contains(refused(manifest(files=files("boot.py"))), "listed twice")
    contains(refused(manifest(files=files("firmware/app.py"))), "both as .py and as .mpy")
    many = files(*["firmware/m%d.mpy" % i for i in range(um.MAX_FILES)])
    contains(refused(manifest(files=many)), "files is not a list of 1 to 96")
    big = files(*["firmware/m%d.mpy" % i for i in range(7)])
    for f in big:
        f["size"] = um.MAX_FILE
    contains(refused(manifest(files=big)), "over 393216 bytes in all")
    for name in ("boot.py", "main.py", "firmware/app.mpy", "firmware/update_slot.mpy"):
        without = [f for f in files() if f["path"] != name]
        contains(refused(manifest(files=without)), "is missing")


def test_what_a_board_may_install():
    m = um.parse(manifest())
    assert um.installable(m, "1.1.0", []) is None
    assert um.installable(m, "1.1.9", ["1.1.5"]) is None
    contains(um.installable(m, "1.2.0", []), "1.2.0 is not newer than this board's 1.2.0")
    contains(um.installable(m, "1.3.0", []), "not newer")  # a downgrade, or a replay
    contains(um.installable(m, "1.0.9", []), "updates from 1.1.0 or later only")
    contains(um.installable(m, "1.1.0", ["1.2.0"]), "failed its trial on this board before")


def test_file_url_is_beside_the_manifest_in_a_version_folder():
    m = um.parse(manifest())
    assert um.file_url("https://h/r/", m, "boot.py") == "https://h/r/1.2.0/boot.py"
