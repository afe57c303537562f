"""Check that the repository's .json files are JSON: strict (no NaN, no duplicate key), UTF-8.

    python -m tools.jsoncheck [FILE ...]   # no FILE: every .json file git tracks

The captured Envoy replies under tools/fixtures/envoy are skipped (their *_log.json metadata is
checked): they are what each Envoy sent, and old firmware sends HTML where JSON is expected.
"""

import argparse
import json
import os
import subprocess
import sys

CAPTURES = os.path.join("tools", "fixtures", "envoy") + os.sep


def is_capture(path: str) -> bool:
    """A reply body as an Envoy sent it (not ours to fix), not the collector's *_log.json."""
    return os.path.normpath(path).startswith(CAPTURES) and not path.endswith("_log.json")


def _no_duplicates(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ValueError("duplicate key %s" % ", ".join(repr(k) for k in twice))
    return dict(pairs)


def _no_constant(name: str) -> float:
    raise ValueError("%s is not JSON" % name)


def problem(path: str) -> str | None:
    """What is wrong with the file at path as JSON, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            json.load(f, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return "%s: %s" % (path, e)
    return None


def tracked() -> list[str]:
    """Every .json file git tracks, from the repository root."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "*.json"], capture_output=True, check=True
    ).stdout
    return [p for p in out.decode().split("\0") if p]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Check that .json files are strict JSON.")
    p.add_argument("files", nargs="*", help="default: every .json file git tracks")
    args = p.parse_args(argv)
    paths = [f for f in (args.files or tracked()) if not is_capture(f)]
    found = [msg for msg in map(problem, paths) if msg]
    for msg in found:
        print("json: " + msg)
    if found:
        return 1
    print("json: %d files checked" % len(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
