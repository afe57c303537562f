# tools.token prints only printable, bounded text from a token (issue 20): a claim holding a
# newline or escape codes cannot forge lines or drive the terminal.
import json
import sys

from test_host_tools import run

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/unit")
from jwts import make  # noqa: E402


def test_a_pasted_token_with_hostile_claims_is_printed_harmless(sim, tmp_path):
    evil = make(
        aud="1224\n12:00:00 relay=on reason=surplus",
        role="owner\x1b[2J\x1b]0;owned\x07",
        username="me@example.com\r\x1b[1A" + "x" * 200,
        exp=2000000000,
    )
    cfg = sim.config(envoy={"host": sim.envoy.host, "token": evil})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    code, out = run("tools.token", "--config", str(path), cwd=tmp_path)
    assert code == 0, out
    lines = [x for x in out.splitlines() if "pasted token" in x]
    assert len(lines) == 1, out
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out, repr(out)
    assert "relay=on" in lines[0] and len(lines[0]) < 300, lines  # on the one line, bounded
