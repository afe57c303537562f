# Impostors at the Envoy's address: a plain-HTTP server claiming old firmware (a downgrade), and a
# TLS server with another certificate after a pin that could not be saved. The token and the
# session cookie must never reach them, and their readings must never be used. Real servers on
# 127.0.0.1: the firmware's client under CPython and under the micropython binary, and the whole
# firmware on the simulated board.
import json
import os
import subprocess

import pytest
from conftest import ROOT, token_for

from firmware.envoy import Envoy
from firmware.envoy_parse import AuthError, NoNetPower, PinMismatch
from tools.hostutil import venv_tool
from tools.sim import SimEnvoy
from tools.sim.certs import sha256_of_pem

DOWNGRADE = "claims old firmware"


def app_poll(e, token):
    # What link.Link._connect and _poll do with the Envoy.
    if not e.ready():
        if e.version is None:
            e.probe()
        if e.needs_token():
            e.login(token)
        e.discover()
    return e.read()[0]


def app_polls(e, token, n):
    # The app's error handling: a pin problem or no CT resets; other errors close the
    # connection, and five in a row reset it (a new /info probe).
    nets, errors, streak = [], [], 0
    for _ in range(n):
        try:
            nets.append(app_poll(e, token))
            streak = 0
        except (PinMismatch, NoNetPower) as err:
            errors.append((type(err).__name__, str(err)))
            e.reset()
        except Exception as err:
            errors.append((type(err).__name__, str(err)))
            e.close()
            streak += 1
            if streak >= 5:
                e.reset()
                streak = 0
    return nets, errors


def impostor_on(sim, folder):
    """Stop the real (TLS) Envoy and start a plain-HTTP one claiming old firmware on its port."""
    port = sim.envoy.port
    sim.envoy.stop()
    return SimEnvoy(folder, sim.pki, sim.clock, sim.authority, port=port).start()


def secrets_sent(envoy):
    return [r for r in envoy.requests if r[2] or r[3]]


def pin_for(sim, mode):
    return sha256_of_pem(sim.pki["envoy_pem"]) if mode == "hex" else mode


# 4.10.35 serves real net power (567 W): an impostor whose data the old code used.
IMPOSTORS = ["3.9.36", "4.10.35"]
PINS = ["tofu", "off", "hex"]


@pytest.mark.parametrize("folder", IMPOSTORS)
@pytest.mark.parametrize("pin", PINS)
def test_plain_http_impostor_mid_run_gets_nothing(sim, pin, folder):
    token = token_for(sim.envoy, sim)
    e = Envoy("127.0.0.1", sim.envoy.port, pin_for(sim, pin), timeout_s=2)
    nets, errors = app_polls(e, token, 3)
    assert nets == [199] * 3 and errors == []
    impostor = impostor_on(sim, folder)
    try:
        nets, errors = app_polls(e, token, 8)
        assert nets == [], "the impostor's readings were used"
        assert secrets_sent(impostor) == [], "the token or the cookie reached the impostor"
        assert all(path == "/info" for _, path, _, _ in impostor.requests)
        refused = [text for kind, text in errors if kind == "Downgrade"]
        assert refused and DOWNGRADE in refused[0] and "nothing was sent" in refused[0]
        assert ("is pinned" if pin != "off" else "has spoken HTTPS") in refused[0]
    finally:
        impostor.stop()


@pytest.mark.parametrize("folder", IMPOSTORS)
@pytest.mark.parametrize("pin", PINS)
def test_plain_http_impostor_after_a_reboot_gets_nothing(sim, pin, folder):
    token = token_for(sim.envoy, sim)
    first = Envoy("127.0.0.1", sim.envoy.port, pin_for(sim, pin), timeout_s=2)
    assert app_polls(first, token, 1) == ([199], [])
    first.close()
    impostor = impostor_on(sim, folder)
    try:
        rebooted = Envoy("127.0.0.1", impostor.port, pin_for(sim, pin), timeout_s=2)
        nets, errors = app_polls(rebooted, token, 3)
        assert nets == [] and secrets_sent(impostor) == []
        assert [kind for kind, _ in errors] == ["Downgrade"] * 3, errors
        if pin != "hex":  # remembered on flash
            assert json.load(open("envoy_pin.json"))["https"] is True
    finally:
        impostor.stop()


def test_login_refuses_plain_http(sim, envoy_for):
    served = envoy_for("4.10.35")
    e = Envoy("127.0.0.1", served.port, "tofu")
    e.probe()
    assert not e.https
    with pytest.raises(PinMismatch):
        e.login(token_for(sim.envoy, sim))
    assert secrets_sent(served) == [] and [r[1] for r in served.requests] == ["/info"]


def test_reset_forgets_the_token_and_the_session(sim):
    e = Envoy("127.0.0.1", sim.envoy.port, "tofu")
    assert app_polls(e, token_for(sim.envoy, sim), 1) == ([199], [])
    e.reset()
    before = len(sim.envoy.requests)
    e.probe()
    with pytest.raises(AuthError):
        e.discover()  # without a new check_jwt: refused
    assert not any(r[2] or r[3] for r in sim.envoy.requests[before:])


def test_an_old_envoy_is_still_read_over_plain_http_when_nothing_is_known(sim, envoy_for):
    served = envoy_for("4.10.35")
    e = Envoy("127.0.0.1", served.port, "tofu")
    assert app_polls(e, "", 2) == ([567, 567], [])
    assert not os.path.exists("envoy_pin.json")


def test_repin_forgets_that_https_worked(sim):
    # After diag.repin() (the pin file removed) an older Envoy at the address is accepted.
    e = Envoy("127.0.0.1", sim.envoy.port, "off", timeout_s=2)
    assert app_polls(e, token_for(sim.envoy, sim), 1) == ([199], [])
    impostor = impostor_on(sim, "4.10.35")
    try:
        assert app_polls(e, "", 1)[0] == []
        os.remove("envoy_pin.json")  # what diag.repin() does, then reset()
        e.reset()
        assert app_polls(e, "", 1) == ([567], [])
        assert secrets_sent(impostor) == []
    finally:
        impostor.stop()


# -- a pin that could not be saved ---------------------------------------------------------------


def test_a_pin_that_could_not_be_saved_holds_until_the_reboot(sim, capsys):
    os.mkdir("envoy_pin.json")  # a folder where the file should be: every save fails
    token = token_for(sim.envoy, sim)
    e = Envoy("127.0.0.1", sim.envoy.port, "tofu", timeout_s=2)
    assert app_polls(e, token, 2) == ([199, 199], [])
    out = capsys.readouterr().out
    requests = len(sim.envoy.requests)
    sim.envoy.cert = "envoy2"  # an impostor with another certificate
    e.close()
    nets, errors = app_polls(e, token, 3)
    assert nets == [] and [kind for kind, _ in errors] == ["PinMismatch"] * 3, errors
    # Only /info reached it (to tell a firmware update), never the token nor the session.
    assert {r[1] for r in sim.envoy.requests[requests:]} == {"/info"}
    assert all(not (r[2] or r[3]) for r in sim.envoy.requests[requests:])
    # The console does not claim a pin that is not on flash.
    assert "could not be saved; it holds until the next reboot" in out
    assert "certificate pinned on first use" not in out.replace("the certificate pinned", "")


def test_https_seen_but_not_saved_still_refuses_plain_http(sim, capsys):
    os.mkdir("envoy_pin.json")
    token = token_for(sim.envoy, sim)
    e = Envoy("127.0.0.1", sim.envoy.port, "off", timeout_s=2)
    assert app_polls(e, token, 1) == ([199], [])
    out = capsys.readouterr().out
    impostor = impostor_on(sim, "4.10.35")
    try:
        nets, errors = app_polls(e, token, 7)
        assert nets == [] and secrets_sent(impostor) == []
        assert "Downgrade" in [kind for kind, _ in errors]
        assert "that the Envoy speaks HTTPS could not be saved" in out
    finally:
        impostor.stop()


def test_a_damaged_pin_file_is_reported_and_replaced(sim, capsys):
    with open("envoy_pin.json", "w") as f:
        json.dump({"sha256": "not hex", "https": "yes"}, f)
    e = Envoy("127.0.0.1", sim.envoy.port, "tofu")
    e.probe()
    out = capsys.readouterr().out
    assert "envoy_pin.json is not a pin record; ignoring it" in out
    assert json.load(open("envoy_pin.json")) == {
        "https": True,
        "sha256": sha256_of_pem(sim.pki["envoy_pem"]),
        "serial": sim.envoy.serial,
        "software": sim.envoy.software,
    }


# -- the same under the micropython binary -------------------------------------------------------


def run_upy(tmp_path, cases, on_wait=None):
    """Run upy_client.py with these cases; on_wait() runs each time a case asks to wait."""
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"cases": cases}))
    p = subprocess.Popen(
        [venv_tool("micropython"), ROOT + "/host_tests/integration/upy_client.py", str(job), ROOT],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        for line in p.stdout:
            lines.append(line)
            if line.strip() == "WAIT":
                on_wait()
                p.stdin.write("\n")
                p.stdin.flush()
        assert p.wait(120) == 0, "".join(lines)
    finally:
        p.kill()
    return [json.loads(x) for x in lines if x.startswith("{")], "".join(lines)


@pytest.mark.parametrize("pin", PINS)
def test_plain_http_impostor_under_micropython(sim, tmp_path, pin):
    token = token_for(sim.envoy, sim)
    started = []

    def swap():
        started.append(impostor_on(sim, "4.10.35"))

    base = {"port": sim.envoy.port, "token": token, "pin": pin_for(sim, pin), "timeout": 2}
    cases = [
        dict(base, folder="real", envoy="board", app=2),
        dict(base, folder="mid-run", envoy="board", app=8, wait=True),
        dict(base, folder="rebooted", app=3),  # a new Envoy object: the pin file only
    ]
    try:
        (real, mid, rebooted), out = run_upy(tmp_path, cases, swap)
        impostor = started[0]
        assert real["nets"] == [199, 199] and real["errors"] == [], out
        for r in (mid, rebooted):
            assert r["nets"] == [], out
            assert "Downgrade" in [kind for kind, _ in r["errors"]], out
        assert secrets_sent(impostor) == [] and impostor.requests, out
    finally:
        for s in started:
            s.stop()


def test_a_pin_that_could_not_be_saved_under_micropython(sim, tmp_path):
    (tmp_path / "envoy_pin.json").mkdir()
    token = token_for(sim.envoy, sim)

    seen = []

    def swap():
        seen.append(len(sim.envoy.requests))
        sim.envoy.cert = "envoy2"
        sim.envoy.stop()  # drop the kept-alive connection
        sim.envoy.start()

    base = {"port": sim.envoy.port, "token": token, "pin": "tofu", "timeout": 2}
    cases = [
        dict(base, folder="real", envoy="board", app=2),
        dict(base, folder="impostor", envoy="board", app=3, wait=True),
    ]
    (real, impostor), out = run_upy(tmp_path, cases, swap)
    assert real["nets"] == [199, 199], out
    assert impostor["nets"] == [] and [k for k, _ in impostor["errors"]] == ["PinMismatch"] * 3
    # Only /info reached the other certificate (to tell a firmware update), nothing secret.
    assert all(r[1] == "/info" and not (r[2] or r[3]) for r in sim.envoy.requests[seen[0] :])
    assert "could not be saved; it holds until the next reboot" in out
