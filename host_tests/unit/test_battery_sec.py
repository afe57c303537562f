# A battery once seen is not forgotten for one failed look (issue 20): ensemble.look() after a
# reconnection, against a scripted Envoy (runs under CPython and MicroPython). With the
# simulator's battery sites: host_tests/integration/test_battery_sec.py.
from support import fixture
from test_diverter import diverter

from firmware import battery as bt
from firmware import ensemble as en
from firmware.http import Response
from firmware.link import Link as _Link

look_for_battery = _Link.look_for_battery  # on the stand-in Link below

NO_CT = "7.6.185_with_cts_and_battery_3t"  # IQ Batteries, no storage CT: power from POWER
NONE = b'{"devices:": []}'


class Conn:
    def __init__(self, replies):
        self.replies = replies

    def head(self, method, path, headers):
        return path

    def send(self, path):
        body = self.replies[path]
        if isinstance(body, Exception):
            raise body
        return Response(200, bytearray(body), len(body), (), None, "application/json")


class Envoy:
    """What ensemble.look() uses of an envoy.Envoy: replies[path] is bytes, or an exception."""

    def __init__(self):
        self.replies = {
            en.CHARGE: fixture(NO_CT, "ivp_ensemble_secctrl"),
            en.POWER: fixture(NO_CT, "ivp_ensemble_power"),
        }
        self.conn = Conn(self.replies)
        self._headers = ()
        self.reconnect()

    def reconnect(self):
        # What envoy_setup.discover() does at every connection.
        self.battery = self.storage = self.battery_w = None
        self._polls = []

    def needs_token(self):
        return True

    def _get(self, path, head=None):  # as envoy.Envoy's: raises for anything but a 200
        return self.conn.send(path)


class Link:
    def __init__(self, d, e):
        self.envoy = e
        self.reading = d.link.reading
        self.battery_cfg = (None, {"max_import_w": 300, "stale_s": 30})
        self.next_battery = 0


def site():
    d, board = diverter()
    e = Envoy()
    lk = Link(d, e)
    look_for_battery(lk, 0)
    b = lk.reading.battery
    assert b is not None and "power from /ivp/ensemble/power" in b.source
    b.power(0, -1500)
    return d, board, e, lk, b


def test_a_failed_look_after_a_reconnection_keeps_the_battery_with_its_data_missing():
    d, board, e, lk, b = site()
    e.reconnect()
    e.replies[en.POWER] = OSError(104, "connection reset")  # one failed request
    look_for_battery(lk, 10)
    assert lk.reading.battery is b and lk.next_battery == 10 + en.SOC_S  # looked at again soon
    assert b.adjust(10, -2000) == -2000 + 2 * 300 + bt.MARGIN_W  # battery first, with the margin
    assert d.status()["battery_problem"] == "no battery power"
    e.replies[en.POWER] = fixture(NO_CT, "ivp_ensemble_power")
    look_for_battery(lk, 70)
    assert lk.reading.battery is b and e.battery and e._polls  # read with the grid again


def test_replies_that_fail_again_and_again_never_forget_it():
    d, board, e, lk, b = site()
    e.replies[en.CHARGE] = e.replies[en.POWER] = OSError(113, "no route")
    for i in range(20):
        e.reconnect()
        look_for_battery(lk, 60 * i)
        assert lk.reading.battery is b


def test_it_is_forgotten_after_repeated_successful_replies_that_show_none():
    d, board, e, lk, b = site()
    e.reconnect()
    e.replies[en.CHARGE] = b'{"agg_soc": 0}'  # no Max_energy: no battery commissioned
    e.replies[en.POWER] = NONE
    for i in range(en.FORGET_LOOKS - 1):
        look_for_battery(lk, 60 * i)
        assert lk.reading.battery is b and b.adjust(60 * i, 0) == 2 * 300 + bt.MARGIN_W
    e.replies[en.POWER] = OSError(104, "connection reset")  # a failure in between: start again
    look_for_battery(lk, 200)
    e.replies[en.POWER] = NONE
    for i in range(en.FORGET_LOOKS - 1):
        look_for_battery(lk, 300 + 60 * i)
        assert lk.reading.battery is b
    look_for_battery(lk, 500)
    assert lk.reading.battery is None and lk.next_battery == 500 + en.LOOK_S
    import sys

    sys.modules["firmware.battery"] = bt  # look() unloaded it; the tests that follow use it
    sys.modules["firmware.ensemble"] = en
