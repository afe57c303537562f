# firmware/envoy.py and firmware/http.py under CPython against the simulated Envoy (real TLS).
import json
import os

import pytest
from conftest import token_for
from envoy_cases import EXPECTED

from firmware import envoy_parse
from firmware.envoy import Envoy
from firmware.envoy_parse import AuthError, EnvoyError, PinMismatch
from firmware.http import HTTPError
from tools.sim import FIXTURES, SimEnvoy


def connect(sim_envoy, sim, pin="off", timeout_s=10):
    e = Envoy("127.0.0.1", sim_envoy.port, pin, timeout_s)
    e.probe()
    if e.needs_token():
        e.login(token_for(sim_envoy, sim))
    e.discover()
    return e


FOLDERS = sorted(d for d in os.listdir(FIXTURES) if d[0].isdigit())


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_captured_envoy(folder, sim, envoy_for):
    served = envoy_for(folder)
    want = EXPECTED[folder]
    if isinstance(want, int):
        e = connect(served, sim)
        assert e.read()[0] == want
        assert e.read()[0] == want  # and again on the kept-alive connection
    else:
        with pytest.raises(envoy_parse.NoNetPower) as err:
            connect(served, sim)
        assert envoy_parse.NO_CT in str(err.value) and want in str(err.value)


def test_old_firmware_speaks_plain_http_and_needs_no_token(sim, envoy_for):
    served = envoy_for("4.10.35")
    assert not served.tls
    e = Envoy("127.0.0.1", served.port, "tofu")
    e.probe()
    assert (e.https, e.needs_token()) == (False, False)
    e.discover()
    assert e.read()[0] == 567
    assert not os.path.exists("envoy_pin.json")  # nothing to pin over plain HTTP


def test_keep_alive_one_handshake_for_many_polls(sim):
    e = connect(sim.envoy, sim)
    before = sim.envoy.handshakes
    for _ in range(50):
        e.read()
    assert sim.envoy.handshakes == before == 1
    assert e.handshakes() == 1


def test_bearer_and_session_cookie_on_every_data_request(sim):
    e = connect(sim.envoy, sim)
    e.read()
    data = [r for r in sim.envoy.requests if r[1].startswith("/ivp/")]
    assert data and all(bearer and cookie for _, _, bearer, cookie in data)
    assert e.session.startswith("sessionId=")


def test_per_meter_readings_when_available_else_all_meters(sim):
    e = connect(sim.envoy, sim)
    assert e.per_meter and sim.envoy.requests[-1][1] == "/ivp/meters/readings/704643584"
    sim.envoy.per_meter = False
    e = connect(sim.envoy, sim)
    e.read()
    assert not e.per_meter and sim.envoy.requests[-1][1] == "/ivp/meters/readings"
    assert e.read()[0] == 199


def test_production_json_is_chunked_and_read(sim, envoy_for):
    served = envoy_for("7.3.517")
    e = connect(served, sim)
    assert e.plan == ("production",)
    assert e.read()[0] == -765


def test_live_value_replaces_the_grid_figure(sim):
    sim.envoy.live = lambda t: (3000.0, -1234.4)
    e = connect(sim.envoy, sim)
    net, stamp = e.read()
    assert net == -1234 and abs(stamp - sim.clock.now()) < 5


def test_401_html_page_is_an_auth_error(sim):
    e = connect(sim.envoy, sim)
    sim.authority.revoke_all()
    with pytest.raises(AuthError) as err:
        e.read()
    assert "401" in str(err.value)


def test_unknown_token_is_refused_by_check_jwt(sim):
    e = Envoy("127.0.0.1", sim.envoy.port, "off")
    e.probe()
    with pytest.raises(AuthError):
        e.login("eyJhbGciOiJFUzI1NiJ9.eyJleHAiOjF9.c2ln")


@pytest.mark.parametrize(
    "fault, error, words",
    [
        ("html", EnvoyError, "HTML page where JSON was expected"),
        ("truncate", HTTPError, "truncated body"),
        ("oversize", HTTPError, "over the cap"),
        ("reset", (OSError, HTTPError), ""),  # the connection reset mid-body
        ("503", EnvoyError, "503"),  # as after a reboot
    ],
)
def test_a_broken_reply_is_an_error_and_the_next_poll_recovers(sim, fault, error, words):
    e = connect(sim.envoy, sim)
    sim.envoy.fault = fault
    with pytest.raises(error) as err:
        e.read()
    assert words in str(err.value)
    sim.envoy.fault = None
    assert e.read()[0] == 199  # a new connection, and all is well again


def test_slow_server_times_out(sim):
    e = connect(sim.envoy, sim, timeout_s=0.5)
    sim.envoy.slow_s = 1.5
    with pytest.raises(OSError):
        e.read()
    sim.envoy.slow_s = 0
    assert e.read()[0] == 199


def test_redirect_to_the_login_page_means_not_authorised(sim, envoy_for):
    # 8.3.5289 and later: the 401 page points at /login.html; a 302 there is "not authorised".
    e = connect(sim.envoy, sim)

    class Redirect:
        status, location = 302, "/login.html"

    e.conn.send = lambda head, body=None: Redirect
    with pytest.raises(AuthError):
        e._get("/ivp/meters/readings")


def test_certificate_pinned_on_first_use_and_a_new_one_refused(sim):
    e = Envoy("127.0.0.1", sim.envoy.port, "tofu")
    e.probe()
    with open("envoy_pin.json") as f:
        pinned = json.load(f)["sha256"]
    from tools.sim.certs import sha256_of_pem

    assert pinned == sha256_of_pem(sim.pki["envoy_pem"])
    e.login(token_for(sim.envoy, sim))
    e.discover()
    e.read()
    requests = len(sim.envoy.requests)
    sim.envoy.cert = "envoy2"  # an impostor, or a replaced Envoy
    e.close()
    with pytest.raises(PinMismatch) as err:
        e.read()
    assert err.value.recheck and len(sim.envoy.requests) == requests
    e.reset()
    with pytest.raises(PinMismatch) as err:
        e.probe()  # its /info, nothing secret: the same firmware, so not an update
    assert "diag.repin()" in str(err.value) and not err.value.recheck
    # Only /info reached the new certificate: never the token nor the session.
    assert sim.envoy.requests[requests:] == [("GET", "/info", False, False)]


def test_explicit_pin(sim):
    from tools.sim.certs import sha256_of_pem

    good = sha256_of_pem(sim.pki["envoy_pem"])
    e = Envoy("127.0.0.1", sim.envoy.port, good)
    e.probe()
    bad = Envoy("127.0.0.1", sim.envoy.port, "00" * 32)
    with pytest.raises(PinMismatch) as err:
        bad.probe()
    assert "envoy.pin" in str(err.value)
    assert not os.path.exists("envoy_pin.json")


def test_pin_off_accepts_any_certificate(sim):
    Envoy("127.0.0.1", sim.envoy.port, "off").probe()
    sim.envoy.cert = "envoy2"
    Envoy("127.0.0.1", sim.envoy.port, "off").probe()


def test_nothing_listening(sim):
    port = sim.envoy.port
    sim.envoy.stop()
    with pytest.raises((OSError, EnvoyError)):
        Envoy("127.0.0.1", port, "off", timeout_s=1).probe()


def test_a_new_session_keeps_the_meters_and_sends_its_cookie(sim):
    e = connect(sim.envoy, sim)
    e.read()
    old = e.session
    meters_reads = sum(1 for r in sim.envoy.requests if r[1] == "/ivp/meters")
    e.login(token_for(sim.envoy, sim))  # check_jwt again, as after a 401
    assert e.ready() and e.session != old
    sim.envoy.sessions.discard(old)  # the old session is gone on the Envoy
    assert e.read()[0] == 199
    assert sum(1 for r in sim.envoy.requests if r[1] == "/ivp/meters") == meters_reads


def envoy_serving(tmp_path, sim, name, edit):
    """A simulated Envoy serving 8.2.4345 with one capture file changed by edit(parsed JSON)."""
    import shutil

    folder = tmp_path / "capture"
    shutil.copytree(os.path.join(FIXTURES, "8.2.4345_with_device_data"), folder)
    path = folder / name
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    return SimEnvoy(str(folder), sim.pki, sim.clock, sim.authority).start()


def net_meter(readings):
    return [r for r in readings if r["eid"] == 704643584][0]


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: [dict(x, eid=str(x["eid"])) for x in m],  # string eids
        lambda m: [dict(x, eid=True) for x in m],  # a bool eid
        lambda m: [dict(x, eid=704643584.5) for x in m],
        lambda m: [dict(x, measurementType=[x["measurementType"]]) for x in m],
        lambda m: [dict(x, state={"on": True}) for x in m],
        lambda m: m + [[m[0]]],  # nested junk
        lambda m: m + [None],
    ],
    ids=["str-eid", "bool-eid", "float-eid", "list-type", "dict-state", "nested", "null"],
)
def test_a_malformed_meter_list_is_an_unexpected_reply(sim, tmp_path, edit):
    served = envoy_serving(tmp_path, sim, "ivp_meters", edit)
    try:
        e = Envoy("127.0.0.1", served.port, "off")
        e.probe()
        e.login(token_for(served, sim))
        with pytest.raises(EnvoyError) as err:
            e.discover()
        assert "unexpected reply to /ivp/meters:" in str(err.value)
        assert not any(r[1] == "/production.json" for r in served.requests)
    finally:
        served.stop()


@pytest.mark.parametrize("per_meter", [True, False])
@pytest.mark.parametrize("junk", ["12", True, None, float("inf"), [1], {"w": 1}, 5e9])
def test_active_power_that_is_not_a_number_is_an_unexpected_reply(sim, tmp_path, junk, per_meter):
    def edit(readings):
        net_meter(readings)["activePower"] = junk
        return readings

    served = envoy_serving(tmp_path, sim, "ivp_meters_readings", edit)
    served.per_meter = per_meter
    try:
        e = Envoy("127.0.0.1", served.port, "off")
        e.probe()
        e.login(token_for(served, sim))
        e.discover()
        with pytest.raises(EnvoyError) as err:
            e.read()
        assert "unexpected reply to /ivp/meters/readings" in str(err.value)
        assert "activePower" in str(err.value)
    finally:
        served.stop()


def test_a_bool_eid_in_the_readings_is_not_the_meter(sim, tmp_path):
    # The net meter's entry names eid true; true == 1 but it is not meter 704643584.
    def edit(readings):
        net_meter(readings)["eid"] = True
        return readings

    served = envoy_serving(tmp_path, sim, "ivp_meters_readings", edit)
    try:
        e = Envoy("127.0.0.1", served.port, "off")
        e.probe()
        e.login(token_for(served, sim))
        e.discover()
        with pytest.raises(EnvoyError) as err:
            e.read()
        assert "no meter 704643584" in str(err.value)
    finally:
        served.stop()


def test_https_first_so_a_closed_port_80_is_normal(sim, tmp_path):
    # D8.3.5286 and later refuse plain HTTP: a first connection must need nothing but HTTPS.
    from tools.sim.broker import free_port

    e = Envoy("127.0.0.1", sim.envoy.port, "tofu", pin_file=str(tmp_path / "pin.json"))
    e.probe()
    assert e.https and sim.envoy.handshake_failures == 0  # no plain-HTTP attempt at all
    # Nothing listening at all (port 80 refused, and 443 too): the HTTPS failure is what is said.
    down = Envoy("127.0.0.1", free_port(), "tofu", timeout_s=2, pin_file=None)
    with pytest.raises(OSError) as err:
        down.probe()
    assert "refused" in str(err.value).lower() or err.value.errno == 111
