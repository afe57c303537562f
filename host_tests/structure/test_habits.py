# The checks before a commit: the host tools type-check, the JSON files are strict JSON, and the
# plain git hook (make hooks) and .pre-commit-config.yaml run the same checks.
import os
import subprocess
import sys

from tools import jsoncheck

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOOK = os.path.join(ROOT, "tools", "hooks", "pre-commit")


def test_the_host_tools_type_check():
    r = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_repository_json_files_are_strict_json(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert jsoncheck.main([]) == 0


def test_jsoncheck_names_each_problem(tmp_path, capsys):
    cases = {
        "twice.json": b'{"a": 1, "b": {"c": 1, "c": 2}}',
        "nan.json": b"[1, NaN]",
        "cut.json": b'{"a": ',
        "latin1.json": b'{"a": "caf\xe9"}',
        "good.json": b'{"a": [1, 2.5, "\xc3\xa9"]}',
    }
    for name, body in cases.items():
        (tmp_path / name).write_bytes(body)
    assert jsoncheck.main([str(tmp_path / n) for n in cases]) == 1
    out = capsys.readouterr().out
    assert "twice.json: duplicate key 'c'" in out and "nan.json: NaN is not JSON" in out
    assert "cut.json" in out and "latin1.json" in out and "good.json" not in out
    assert jsoncheck.main([str(tmp_path / "good.json")]) == 0


def test_jsoncheck_skips_the_captured_envoy_replies_only():
    old = os.path.join("tools", "fixtures", "envoy", "3.9.36", "production.json")
    assert jsoncheck.problem(os.path.join(ROOT, old))  # HTML, as that Envoy sent it
    assert jsoncheck.is_capture(old)
    assert not jsoncheck.is_capture(old.replace("production.json", "production.json_log.json"))
    assert not jsoncheck.is_capture("package.json")


def test_the_git_hook_and_pre_commit_run_the_same_checks():
    with open(HOOK) as f:
        hook = f.read()
    with open(os.path.join(ROOT, ".pre-commit-config.yaml")) as f:
        config = f.read()
    checks = ["ruff check", "ruff format", "tools.jsoncheck", "tools.layers --check", "mypy"]
    for check in checks:
        assert check in hook and check in config, check
    assert config.count("language: system") == len(checks) and "repo: local" in config
    assert os.access(HOOK, os.X_OK)
