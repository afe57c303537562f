# pyenphase (the library of Home Assistant's Enphase integration) against tools.sim, for every
# capture folder: what it reports must be what the captured files hold. A real client that was
# not written for this simulator is the check that the simulator behaves like an Envoy.
import asyncio
import json
import os
import ssl

import pytest
from conftest import token_for

from tools.sim import FIXTURES, endpoint_file

pyenphase = pytest.importorskip("pyenphase")
from pyenphase import Envoy  # noqa: E402
from pyenphase.exceptions import EnvoyAuthenticationRequired, EnvoyProbeFailed  # noqa: E402

FOLDERS = sorted(d for d in os.listdir(FIXTURES) if d[0].isdigit())
# Captures that hold no production figure pyenphase can read: 3.7.0 predates its support (3.9)
# and serves production as an HTML page only.
NO_PRODUCTION = {"3.7.0"}


def captured(folder, endpoint):
    """The JSON a capture holds for an endpoint when the Envoy answered 200, else None."""
    path = os.path.join(FIXTURES, folder, endpoint_file(endpoint))
    if not os.path.exists(path) and endpoint == "/production.json?details=1":
        path = os.path.join(FIXTURES, folder, "production.json")
    if not os.path.exists(path):
        return None
    if os.path.exists(path + "_log.json"):
        with open(path + "_log.json") as f:
            if json.load(f).get("code", 200) != 200:
                return None
    with open(path, "rb") as f:
        try:
            return json.loads(f.read())
        except ValueError:
            return None


async def read(host, token=None, rounds=2):
    envoy = Envoy(host)
    try:
        await envoy.setup()
        await envoy.authenticate(token=token)
        for _ in range(rounds):
            data = await envoy.update()
        return envoy, data
    finally:
        await envoy.close()


def run(coro):
    return asyncio.run(coro)


def production_figures(folder):
    """Every production W figure in the capture: eim and inverters of the production reports,
    wattsNow of /api/v1/production. pyenphase picks one by its own rules."""
    found = set()
    for endpoint in ("/production.json?details=1", "/production"):
        report = captured(folder, endpoint)
        if isinstance(report, dict):
            found.update(round(p["wNow"]) for p in report.get("production", []) if "wNow" in p)
    v1 = captured(folder, "/api/v1/production")
    if isinstance(v1, dict) and "wattsNow" in v1:
        found.add(v1["wattsNow"])
    return found


def check_consumption(folder, version, data):
    report = data.raw.get("/production.json?details=1") or data.raw.get("/production") or {}
    by_type = {c.get("measurementType"): c for c in report.get("consumption", [])}
    if data.system_net_consumption is not None:
        assert data.system_net_consumption.watts_now == round(by_type["net-consumption"]["wNow"])
    if data.system_consumption is not None:
        total = round(by_type["total-consumption"]["wNow"])
        net = round(by_type["net-consumption"]["wNow"])
        if version >= (8, 3, 5433) and total == net:
            # The firmware bug the fixtures README names: pyenphase adds production back.
            total += data.system_production.watts_now
        assert data.system_consumption.watts_now == total


def check_meters(folder, data):
    meters = captured(folder, "/ivp/meters")
    readings = captured(folder, "/ivp/meters/readings")
    if not isinstance(meters, list) or not isinstance(readings, list):
        assert not data.ctmeters
        return
    power = {r["eid"]: round(r["activePower"]) for r in readings}
    enabled = {m["measurementType"]: m["eid"] for m in meters if m["state"] == "enabled"}
    assert set(data.ctmeters) == set(enabled)
    for kind, eid in enabled.items():
        assert data.ctmeters[kind].active_power == power[eid], kind


def check_inverters(folder, data):
    device_data = captured(folder, "/ivp/pdm/device_data")
    v1 = captured(folder, "/api/v1/production/inverters")
    if "/ivp/pdm/device_data" in data.raw:
        want = {
            d["sn"]
            for d in device_data.values()
            if isinstance(d, dict) and d.get("devName") == "pcu" and d.get("active")
        }
    elif isinstance(v1, list):
        want = {i["serialNumber"] for i in v1}
        for i in v1:
            assert data.inverters[i["serialNumber"]].last_report_watts == i["lastReportWatts"]
    else:
        want = set()
    assert set(data.inverters) == want
    if isinstance(v1, list) and v1:
        assert data.inverters, "the capture has inverters; pyenphase found none"


def check_batteries(folder, data):
    inventory = captured(folder, "/ivp/ensemble/inventory")
    power = captured(folder, "/ivp/ensemble/power")
    secctrl = captured(folder, "/ivp/ensemble/secctrl")
    kinds = {i["type"]: i.get("devices", []) for i in inventory or [] if isinstance(i, dict)}
    if "ENCHARGE" in kinds and isinstance(power, dict):
        assert set(data.encharge_inventory) == {d["serial_num"] for d in kinds["ENCHARGE"]}
        soc = {d["serial_num"]: d["soc"] for d in power["devices:"]}
        assert {s: p.soc for s, p in data.encharge_power.items()} == soc
        assert data.encharge_aggregate.state_of_charge == secctrl["ENC_agg_soc"]
    else:
        assert not data.encharge_power
    if "ENPOWER" in kinds:
        assert data.enpower.serial_number == kinds["ENPOWER"][0]["serial_num"]
    report = data.raw.get("/production.json?details=1") or data.raw.get("/production") or {}
    storage = (report.get("storage") or [{}])[0]
    if storage.get("activeCount") and "percentFull" in storage:
        assert data.acb_power.state_of_charge == storage["percentFull"]
        assert data.acb_power.batteries == storage["activeCount"]
        if kinds:  # pyenphase reads secctrl only when the Ensemble inventory lists devices
            assert data.battery_aggregate.state_of_charge == secctrl["agg_soc"]
    else:
        assert data.acb_power is None


@pytest.mark.parametrize("folder", FOLDERS)
def test_pyenphase_reads_every_capture_as_the_files_hold_it(folder, sim, envoy_for):
    served = envoy_for(folder)
    token = token_for(served, sim) if served.tls else None
    if folder in NO_PRODUCTION:
        assert not production_figures(folder)
        with pytest.raises(EnvoyProbeFailed):
            run(read(served.host, token))
        return
    envoy, data = run(read(served.host, token))
    assert str(envoy.firmware) == served.software[1:] and envoy.serial_number == served.serial
    # Everything it parsed is the captured JSON, endpoint by endpoint.
    for endpoint, value in data.raw.items():
        assert value == captured(folder, endpoint), endpoint
    assert data.system_production.watts_now in production_figures(folder)
    check_consumption(folder, served.version, data)
    check_meters(folder, data)
    check_inverters(folder, data)
    check_batteries(folder, data)
    if isinstance(captured(folder, "/admin/lib/tariff"), dict):
        assert data.tariff is not None
    # pyenphase sends the token alone: aiohttp keeps no cookie from an IP address.
    data_requests = [r for r in served.requests if r[1] not in ("/info", "/auth/check_jwt")]
    assert data_requests and not any(cookie for _, _, _, cookie in data_requests)


def test_pyenphase_gets_its_token_from_the_simulated_cloud(sim, monkeypatch):
    from pyenphase import auth

    ctx = ssl.create_default_context(cafile=None)
    ctx.load_verify_locations(cadata=open(sim.pki["ca_der"], "rb").read())
    monkeypatch.setattr(auth, "SSL_CONTEXT", ctx)
    monkeypatch.setattr(auth.EnvoyTokenAuth, "JSON_LOGIN_URL", sim.cloud.login_url + "?")
    monkeypatch.setattr(auth.EnvoyTokenAuth, "TOKEN_URL", sim.cloud.token_url)

    async def login():
        envoy = Envoy(sim.envoy.host)
        try:
            await envoy.setup()
            await envoy.authenticate(sim.cloud.email, sim.cloud.password)
            return envoy.auth.token, await envoy.update()
        finally:
            await envoy.close()

    token, data = run(login())
    assert token == sim.cloud.issued[-1] and not sim.cloud.problems
    assert data.ctmeters["net-consumption"].active_power == 199  # 8.2.4345_with_device_data


def test_require_cookie_refuses_a_bare_token(sim):
    sim.envoy.require_cookie = True
    with pytest.raises(EnvoyAuthenticationRequired):
        run(read(sim.envoy.host, token_for(sim.envoy, sim), rounds=1))
