# tools.sim as an Envoy: every captured endpoint served as its *_log.json describes it, the
# ways a real Envoy takes a token, and `python -m tools.sim` driven as a user would.
import http.client
import json
import os
import shlex
import signal
import ssl
import subprocess
import sys
import time

import pytest
from conftest import ROOT, token_for

from tools.sim import FIXTURES, captured_endpoints, certs, endpoint_file

FOLDERS = sorted(d for d in os.listdir(FIXTURES) if d[0].isdigit())
# The paths the capture collector asked for (pyenphase's devtools/fixture_collector.py).
PATHS = [
    "/info",
    "/production",
    "/production.json",
    "/production.json?details=1",
    "/api/v1/production",
    "/api/v1/production/inverters",
    "/ivp/meters",
    "/ivp/meters/readings",
    "/ivp/meters/gridReading",
    "/ivp/meters/pvReading",
    "/ivp/meters/reports",
    "/ivp/ensemble/inventory",
    "/ivp/ensemble/dry_contacts",
    "/ivp/ensemble/power",
    "/ivp/ensemble/secctrl",
    "/ivp/ensemble/status",
    "/ivp/ensemble/generator",
    "/ivp/ensemble/relay",
    "/ivp/ss",
    "/ivp/ss/dry_contact_settings",
    "/ivp/ss/gen_config",
    "/ivp/ss/gen_mode",
    "/ivp/ss/gen_schedule",
    "/ivp/ss/pel_settings",
    "/ivp/sc/pvlimit",
    "/ivp/pdm/device_data",
    "/ivp/pdm/energy",
    "/admin/lib/tariff",
    "/admin/lib/acb_config",
    "/inventory.json?deleted=1",
    "/inventory",
    "/inv",
    "/home",
]
# Files in the captures whose request path nobody recorded; they are served under their name.
UNKNOWN_PATH = {
    "production.json_details_1.json",
    "ivp_ss_gen_schedule.json",
    "ivp_pdm_device_data_1",
}
NO_VERIFY = ssl._create_unverified_context()


def get(served, path, headers=None):
    if served.tls:
        c = http.client.HTTPSConnection("127.0.0.1", served.port, timeout=10, context=NO_VERIFY)
    else:
        c = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r, r.read()
    finally:
        c.close()


def log_of(folder, name):
    path = os.path.join(FIXTURES, folder, name + "_log.json")
    if not os.path.exists(path):
        return {}, {}
    with open(path) as f:
        log = json.load(f)
    return log, {k.lower(): v for k, v in log.get("headers", {}).items()}


def test_every_capture_file_has_a_known_path():
    names = {endpoint_file(p) for p in PATHS}
    for folder in FOLDERS:
        unknown = captured_endpoints(os.path.join(FIXTURES, folder)) - names - UNKNOWN_PATH
        assert not unknown, (folder, unknown)


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_captured_endpoint_as_its_log_describes_it(folder, sim, envoy_for):
    served = envoy_for(folder)
    auth = {"Authorization": "Bearer " + token_for(served, sim)} if served.tls else {}
    files = captured_endpoints(os.path.join(FIXTURES, folder))
    exact = logged = 0
    for path in PATHS:
        name = endpoint_file(path)
        if name not in files:
            continue
        r, body = get(served, path, auth)
        log, headers = log_of(folder, name)
        with open(os.path.join(FIXTURES, folder, name), "rb") as f:
            stored = f.read()
        assert r.status == log.get("code", 200), path
        if "content-type" in headers:
            assert r.getheader("Content-Type") == headers["content-type"], path
        if "chunked" in headers.get("transfer-encoding", ""):
            assert r.chunked and r.getheader("Content-Length") is None, path
        elif "content-length" in headers:
            assert not r.chunked and int(r.getheader("Content-Length")) == len(body), path
            logged += 1
            exact += len(body) == int(headers["content-length"])
        if "www-authenticate" in headers:
            assert r.getheader("WWW-Authenticate") == headers["www-authenticate"]
        if body.rstrip(b"\r\n") != stored.rstrip(b"\r\n"):  # re-formatted: the same JSON
            assert json.loads(body) == json.loads(stored), path
    r, body = get(served, "/production.json?details=1", auth)
    if "production.json" in files and "production.json_details_1" not in files:
        assert body == get(served, "/production.json", auth)[1]  # older captures: the same
    assert served.missing == []
    if folder in ("8.2.4345_with_device_data", "7.6.175_with_cts", "3.8.10"):
        assert exact == logged > 0  # the bytes sent are as many as the Envoy sent


def test_what_a_capture_lacks_is_404_and_recorded(sim):
    r, body = get(sim.envoy, "/ivp/livedata/status", bearer(sim))
    assert r.status == 404 and json.loads(body) == {"error": "404 - Not Found"}
    assert sim.envoy.missing == ["/ivp/livedata/status"]
    # Only response files are served: not the capture metadata, not another folder's file.
    for path in ("/info_log.json", "/../8.1.41/info", "/..", "/README.md", "/%2e%2e/info"):
        assert get(sim.envoy, path, bearer(sim))[0].status == 404, path


def bearer(sim):
    return {"Authorization": "Bearer " + token_for(sim.envoy, sim)}


def session(sim):
    r, _ = get(sim.envoy, "/auth/check_jwt", bearer(sim))
    assert r.status == 200
    return r.getheader("Set-Cookie").split(";")[0]


def test_the_token_alone_the_cookie_alone_or_both(sim):
    cookie = {"Cookie": session(sim)}
    for headers in (bearer(sim), cookie, {**bearer(sim), **cookie}):
        assert get(sim.envoy, "/ivp/meters", headers)[0].status == 200
    for headers in ({}, {"Authorization": "Bearer a.b.c"}, {"Cookie": "sessionId=guessed"}):
        r, body = get(sim.envoy, "/ivp/meters", headers)
        assert r.status == 401 and b"401 Authorization Required" in body


def test_require_cookie_needs_the_session(sim):
    sim.envoy.require_cookie = True
    assert get(sim.envoy, "/ivp/meters", bearer(sim))[0].status == 401
    assert get(sim.envoy, "/ivp/meters", {"Cookie": session(sim)})[0].status == 200


def test_a_session_ends_with_its_token(sim):
    cookie = {"Cookie": session(sim)}
    sim.authority.revoke_all()
    assert get(sim.envoy, "/ivp/meters", cookie)[0].status == 401


def test_8_3_5289_opens_a_session_for_a_bare_token(sim, envoy_for):
    served = envoy_for("8.3.5289_modGone")
    r, _ = get(served, "/ivp/meters", {"Authorization": "Bearer " + token_for(served, sim)})
    cookie = r.getheader("Set-Cookie").split(";")[0]
    assert r.status == 200 and cookie.startswith("sessionId=") and "REDACTED" not in cookie
    assert get(served, "/ivp/meters", {"Cookie": cookie})[0].status == 200


# -- python -m tools.sim -----------------------------------------------------------------------


def start_cli(tmp_path, pki_dir, *args):
    config = str(tmp_path / "sim" / "config.json")
    p = subprocess.Popen(
        [sys.executable, "-m", "tools.sim", "--config", config, "--pki", pki_dir, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if "Ctrl-C stops it" in line:
            return p, lines, config
    p.kill()
    raise AssertionError("tools.sim did not start:\n" + "\n".join(lines))


def run_printed(line):
    argv = shlex.split(line)
    assert argv[1:3] == ["-m", argv[2]] and os.path.samefile(
        os.path.join(ROOT, argv[0]), sys.executable
    )
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def stop_cli(p):
    p.send_signal(signal.SIGINT)  # what Ctrl-C sends
    out, _ = p.communicate(timeout=15)
    assert p.returncode == 0 and "sim: stopped" in out, out


def test_python_m_tools_sim_prints_commands_that_work(tmp_path, pki_dir):
    p, lines, config = start_cli(tmp_path, pki_dir)
    try:
        commands = [ln.strip() for ln in lines if ln.startswith("  ")]
        assert [c.split()[2] for c in commands] == [
            "tools.token",
            "tools.envoy_read",
            "tools.envoy_pin",
        ]
        assert json.load(open(config))["enlighten"]["ca_file"] == os.path.join(pki_dir, "ca.der")
        code, out = run_printed(commands[0])
        assert code == 0 and "ok: owner token for Envoy 122446001637" in out, out
        code, out = run_printed(commands[1])
        assert code == 0 and "net_w=199" in out, out
        code, out = run_printed(commands[2])
        want = certs.sha256_of_pem(os.path.join(pki_dir, "envoy.pem"))
        assert code == 0 and "sha256=" + want in out, out
    finally:
        stop_cli(p)


def test_python_m_tools_sim_with_old_firmware(tmp_path, pki_dir):
    p, lines, config = start_cli(tmp_path, pki_dir, "--folder", "4.10.35")
    try:
        assert "no certificate to pin" in "\n".join(lines)
        read = [ln.strip() for ln in lines if "tools.envoy_read" in ln][0]
        code, out = run_printed(read)
        assert code == 0 and "plain HTTP, no token" in out and "net_w=567" in out, out
    finally:
        stop_cli(p)


def test_python_m_tools_sim_names_the_folders_on_a_typo(tmp_path, pki_dir):
    r = subprocess.run(
        [sys.executable, "-m", "tools.sim", "--folder", "8.2", "--config", str(tmp_path / "c")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2 and "8.2.4345_with_device_data" in r.stderr
    assert not (tmp_path / "c").exists()
