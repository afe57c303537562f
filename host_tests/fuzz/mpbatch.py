# Run many inputs through the `micropython` binary in one process: hypothesis (CPython only)
# draws the inputs, the board's runtime answers for each one.
import binascii
import os
import subprocess
import tempfile

from tools.hostutil import venv_tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def collect(strategy, n, seed=0):
    """n inputs drawn from strategy with a fixed seed (derandomized, no example database)."""
    from hypothesis import HealthCheck, given, settings

    out = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def draw(x):
        out.append(x)

    draw()
    return out


def run(script, inputs, timeout=120):
    """script: MicroPython code defining answer(data: bytes) -> bytes. Each input (bytes) goes in
    as one hex line; the answers come back in order (other output, such as console lines, is
    skipped)."""
    runner = (
        "import sys, binascii\nsys.path.insert(0, %r)\n%s\n"
        "for line in open(sys.argv[1]):\n"
        "    r = answer(binascii.unhexlify(line.strip()))\n"
        "    sys.stdout.write('@@' + binascii.hexlify(r).decode() + '\\n')\n" % (ROOT, script)
    )
    with tempfile.TemporaryDirectory() as folder:
        src, data = folder + "/batch.py", folder + "/inputs.txt"
        with open(src, "w") as f:
            f.write(runner)
        with open(data, "w") as f:
            for x in inputs:
                f.write(binascii.hexlify(x).decode() + "\n")
        r = subprocess.run(
            [venv_tool("micropython"), src, data],
            cwd=folder,
            capture_output=True,
            timeout=timeout,
        )
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    lines = [x[2:] for x in r.stdout.split(b"\n") if x[:2] == b"@@"]
    assert len(lines) == len(inputs), r.stdout[-2000:]
    return [binascii.unhexlify(x) for x in lines]
