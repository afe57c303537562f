# The Envoy client on a simulated IQ Battery site without a storage CT (issue 20): a look after a
# reconnection whose Ensemble requests fail keeps the battery, its data missing (battery first
# with the margin), until the Envoy's replies show none look after look.
from test_battery_client import connect, polled

from firmware import battery, ensemble
from firmware.link import Link as _Link
from tools.sim import SimBattery

look_for_battery = _Link.look_for_battery  # on the stand-in Link below

SITE = "7.6.185_with_cts_and_battery_3t"  # IQ Batteries: their power from /ivp/ensemble/power


def failing(served, paths):
    """served answers 503 to these paths (an Envoy busy after its reconnection)."""
    serve = served.serve

    def serve_or_fail(h):
        if h.path in paths:
            return h.reply(503, "", "text/html")
        return serve(h)

    served.serve = serve_or_fail


def test_one_failed_look_after_a_reconnection_does_not_forget_the_battery(sim, envoy_for):
    served = envoy_for(SITE)
    served.live = lambda t: (3000.0, -1000.0)
    served.battery = SimBattery(soc_pct=50)
    e = connect(served, sim)
    lk = e.link
    b = lk.reading.battery
    assert b is not None and ensemble.POWER in b.source
    e.read()
    b.power(0, e.battery_w)
    assert b.w == -1000  # charging with the export
    e.discover()  # a reconnection: what the look found is forgotten with the session
    failing(served, (ensemble.CHARGE, ensemble.POWER))
    look_for_battery(lk, 100)
    assert lk.reading.battery is b, "forgotten after one failed look"
    assert polled(served, e)[-1].startswith("/ivp/meters/readings/")
    assert b.adjust(100, -1000) == -1000 + 2 * 300 + battery.MARGIN_W  # battery first + margin
    assert lk.next_battery == 100 + ensemble.SOC_S  # looked at again in a minute
    served.serve = type(served).serve.__get__(served)  # the Envoy answers again
    look_for_battery(lk, 160)
    assert lk.reading.battery is b and polled(served, e)[-1] == ensemble.POWER
    b.power(161, e.battery_w)
    assert b.adjust(161, 0) == 300 and b.missing is None  # its data again: no margin


def test_a_battery_removed_is_forgotten_after_three_looks_that_show_none(sim, envoy_for):
    served = envoy_for(SITE)
    e = connect(served, sim)
    lk = e.link
    assert lk.reading.battery is not None
    served.endpoints = served.endpoints - {"ivp_ensemble_secctrl"}  # 404: none commissioned
    serve = served.serve

    def no_devices(h):
        if h.path == ensemble.POWER:
            return h.reply(200, '{"devices:": []}')
        return serve(h)

    served.serve = no_devices
    e.discover()
    for i in range(ensemble.FORGET_LOOKS - 1):
        look_for_battery(lk, 100 + 60 * i)
        assert lk.reading.battery is not None
    look_for_battery(lk, 300)
    assert lk.reading.battery is None and lk.next_battery == 300 + ensemble.LOOK_S
