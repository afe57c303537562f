# The Envoy client on the battery captures: what ensemble.look() finds once connected, and what
# each poll asks.
import pytest
from conftest import token_for

from firmware import link
from firmware.envoy import Envoy
from tools.sim import SimBattery

look_for_battery = link.Link.look_for_battery  # on the stand-in Link below


class Link:
    """What link.Link.look_for_battery() uses of a link.Link."""

    def __init__(self, e):
        self.envoy = e
        self.reading = link.Reading()
        self.battery_cfg = (None, {"max_import_w": 300, "stale_s": 30})
        self.next_battery = 0


def connect(served, sim, look=True):
    e = Envoy("127.0.0.1", served.port, "off")
    e.probe()
    if e.needs_token():
        e.login(token_for(served, sim))
    e.discover()
    if look:
        e.link = Link(e)
        look_for_battery(e.link, 0)
    return e


def polled(served, e):
    n = len(served.requests)
    e.read()
    return [r[1] for r in served.requests[n:]]


@pytest.mark.parametrize(
    "folder, storage, found",
    [
        ("8.2.4286_with_3cts_and_battery_split", 704643840, "storage CT eid 704643840"),
        ("8.2.127_with_3cts_and_battery_split", 704643840, "storage CT eid 704643840"),
        ("8.3.1598_collar", 704643840, "storage CT eid 704643840"),
        ("7.6.185_with_cts_and_battery_3t", 0, "/ivp/ensemble/power"),
        ("8.2.4382_ACB", 0, "/ivp/ensemble/power"),
        ("8.3.5169_ACB_inventory", None, "no live source"),
        ("8.2.4345_with_device_data", None, None),  # an Enpower without batteries
        ("8.3.5169_with_generator", None, None),
        ("7.3.517", 0, "/ivp/ensemble/power"),  # batteries, and no /ivp/meters
        ("7.6.175_with_cts", None, None),
    ],
)
def test_each_kind_of_battery_is_found_and_read_with_the_grid(
    folder, storage, found, sim, envoy_for
):
    served = envoy_for(folder)
    e = connect(served, sim)
    assert e.storage == storage
    if found is None:
        assert not e.battery
    else:
        assert found in e.battery
    paths = polled(served, e)
    grid = "/ivp/meters/readings/704643584"
    if storage:
        assert paths == [grid, "/ivp/meters/readings/%d" % storage]
        assert e.battery_w is not None
    elif storage == 0:
        assert paths[-1] == "/ivp/ensemble/power" and len(paths) == 2
        assert paths[0] in (grid, "/production.json")
        assert e.battery_w == (105 if "ACB" in folder else 0)
    else:
        assert len(paths) == 1  # a site without a live battery figure: the poll as before
        assert e.battery_w is None


def test_the_captured_storage_ct_and_a_live_battery(sim, envoy_for):
    served = envoy_for("8.2.4286_with_3cts_and_battery_split")
    e = connect(served, sim)
    e.read()
    assert e.battery_w == -7084  # charging, as captured
    served.live = lambda t: (3000.0, -1000.0)
    served.battery = SimBattery(soc_pct=50)
    assert e.read()[0] == 0 and e.battery_w == -1000  # absorbs the export
    served.battery.wh = served.battery.capacity_wh
    assert e.read()[0] == -1000 and e.battery_w == 0  # full
    # A storage CT that stops answering leaves the grid figure, the battery's missing.
    one_meter = served._one_meter

    def no_storage(h, path):
        if path.endswith("/704643840"):
            return h.reply(404, '{"error": "404 - Not Found"}')
        return one_meter(h, path)

    served._one_meter = no_storage
    assert e.read()[0] == -1000 and e.battery_w is None


def test_nothing_about_batteries_at_connect_then_one_look(sim, envoy_for):
    for folder, found in (
        ("8.2.4286_with_3cts_and_battery_split", True),
        ("8.2.4345_with_device_data", False),
        ("7.6.185_with_cts_and_battery_3t", True),
    ):
        served = envoy_for(folder)
        n = len(served.requests)
        e = connect(served, sim, look=False)
        asked = [r[1] for r in served.requests[n:]]
        assert not [p for p in asked if "ensemble" in p], asked
        assert e.battery is None and polled(served, e)[-1].startswith("/ivp/meters/readings/")
        lk = Link(e)
        n = len(served.requests)
        look_for_battery(lk, 100)
        asked = [r[1] for r in served.requests[n:]]
        assert asked[0] == "/ivp/ensemble/secctrl" and len(asked) <= 2
        assert (lk.reading.battery is not None) == found
        assert lk.next_battery == 100 + (60 if found else 3600)
        if found:
            look_for_battery(lk, 160)  # a minute later: the SoC
            assert lk.reading.battery.soc is not None and lk.next_battery == 220


def test_the_hourly_look_finds_a_battery_fitted_later(sim, envoy_for):
    served = envoy_for("7.6.185_with_cts_and_battery_3t")
    e = connect(served, sim, look=False)
    lk = Link(e)
    lk.reading.net_w = 0
    e.battery = ""  # the look after connecting found none (the battery came later)
    look_for_battery(lk, 3600)
    assert lk.reading.battery is not None and e.storage == 0
    assert polled(served, e)[-1] == "/ivp/ensemble/power"  # read from the next poll on
    assert e.battery_w == 0


def test_without_per_meter_readings_the_storage_ct_comes_from_the_same_body(sim, envoy_for):
    served = envoy_for("8.2.4286_with_3cts_and_battery_split")
    served.per_meter = False
    e = connect(served, sim)
    assert not e.per_meter and e.storage == 704643840
    assert polled(served, e) == ["/ivp/meters/readings"]
    assert e.battery_w == -7084


def test_envoy_read_shows_the_battery(sim, envoy_for, tmp_path):
    from test_host_tools import run

    served = envoy_for("8.2.4286_with_3cts_and_battery_split")
    code, out = run(
        "tools.envoy_read", "--host", served.host, "--token", token_for(served, sim), cwd=tmp_path
    )
    assert code == 0, out
    assert "battery: 25000 Wh, power from storage CT eid 704643840; battery_w=-7084" in out
