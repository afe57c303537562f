# MQTT over TLS and hostile brokers (issue 20): a real mosquitto with a TLS listener on 127.0.0.1
# (certificates from the test CA of tools/sim/certs.py), and trickling peers in front of it
# (tools/sim/trickle.py). The connection attempt has one deadline for all of it, so neither a
# handshake nor a CONNACK dribbled a byte at a time can hold the loop, and the relay goes OFF on
# stale data as it would without MQTT. The firmware runs under micropython (main.py) and, for the
# connection alone, under CPython.
import json
import os
import time

import pytest

from firmware import mqtt, mqtt_drop, mqtt_link
from tools.sim.broker import Broker
from tools.sim.trickle import TrickleBroker, TrickleProxy

SIM_SPEED = 10
UID = "diverter_5e0000d1e5e1"
STALE_S = 10  # tools.sim.TEST_CONTROL's


@pytest.fixture
def tls_broker(pki_dir):
    started = []

    def start(cert="cloud"):
        pem, key = (os.path.join(pki_dir, cert + ext) for ext in (".pem", ".key"))
        b = Broker(tls=(pem, key)).start()
        started.append(b)
        return b

    yield start
    for b in started:
        b.stop()


def tls_config(sim, port):
    m = {"host": "127.0.0.1", "port": port, "tls": True, "ca_file": sim.pki["ca_der"]}
    return sim.config(mqtt=m)


def test_a_tls_broker_end_to_end(sim, board, tls_broker):
    br = tls_broker()
    w = br.watch()
    sim.envoy.live = sim.steady(3000, -2600)
    b = board(tls_config(sim, br.tls_port))
    b.wait_for("mqtt: connected to 127.0.0.1:%d (TLS) as %s" % (br.tls_port, UID), 30)
    b.wait_for("relay=on reason=surplus", 30)
    w.wait(lambda r, t, p: t == UID + "/state" and json.loads(p)["relay"] == "on", 20)
    w.wait(lambda r, t, p: t.endswith("/grid_w/config"), 5)
    mark = len(b.lines)
    br.publish(UID + "/mode/set", "off")
    b.wait_for("relay=off reason=manual-off", 10, mark)
    assert "mqtt: 127.0.0.1" not in b.output()  # no problem with the broker at any time


def test_a_broker_certificate_the_ca_did_not_sign_is_refused(sim, board, tls_broker):
    br = tls_broker("envoy")  # self-signed, like an impostor's
    sim.envoy.live = sim.steady(3000, -2600)
    b = board(tls_config(sim, br.tls_port))
    b.wait_for("mqtt: 127.0.0.1:%d: the broker's certificate is not trusted" % br.tls_port, 30)
    b.wait_for("relay=on reason=surplus", 30)
    assert "mqtt: connected" not in b.output()


def stale_after(sim, b):
    """Freeze the meter once the relay is on: simulated seconds until the relay is OFF."""
    b.wait_for("relay=on reason=surplus", 60)
    t = sim.clock.now()
    sim.envoy.frozen_at = int(t)
    mark = len(b.lines)
    b.wait_for("relay=off reason=stale", 60, mark)
    return sim.clock.now() - t


def test_a_trickled_tls_handshake_cannot_hold_the_loop(sim, board, tls_broker):
    # Anything at the broker's address that answers the handshake a byte every 50 ms: the old
    # client waited for each byte (3 s each) and held the loop for the whole handshake.
    br = tls_broker()
    proxy = TrickleProxy(br.tls_port, pace_s=0.05).start()
    try:
        sim.envoy.live = sim.steady(3000, -2600)
        b = board(tls_config(sim, proxy.port))
        delay = stale_after(sim, b)
        assert delay <= STALE_S + 4, delay  # stale_s, a poll, a connection attempt's 3 s
        assert b.count("mqtt: 127.0.0.1:%d: the TLS handshake took more than" % proxy.port)
        assert "mqtt: connected" not in b.output()
    finally:
        proxy.stop()


def test_a_trickled_connack_cannot_hold_the_loop(sim, board):
    evil = TrickleBroker(pace_s=0.2, trickle_connack=True).start()
    try:
        sim.envoy.live = sim.steady(3000, -2600)
        b = board(sim.config(mqtt={"host": "127.0.0.1", "port": evil.port}))
        delay = stale_after(sim, b)
        assert delay <= STALE_S + 4, delay
        assert b.count("mqtt: 127.0.0.1:%d: the CONNECT took more than" % evil.port)
    finally:
        evil.stop()


# -- the connection attempt alone, under CPython ------------------------------------------------


class Board:
    def unique_id(self):
        return "abc"

    def timeout(self, seconds):
        return 1.0  # the attempt's deadline, all of it


class Output:
    power = 0  # the heater off: the broker's name may be looked up


class Diverter:
    board = Board()
    kept = {}  # no settings kept from before
    output = Output()


def attempt(**m):
    cfg = {"user": "", "password": "", "tls": False, "ca_file": "", "topic": ""}
    cfg.update(prefix="homeassistant", interval_s=10, keepalive_s=30, **m)
    d = Diverter()
    q = mqtt.Mqtt({"mqtt": cfg}, d.board, None)
    q.d = d
    t = time.monotonic()
    mqtt_link.connect(q, 0)
    return q, time.monotonic() - t


def test_one_deadline_for_the_whole_attempt(pki_dir, tls_broker):
    br = tls_broker()
    ca = os.path.join(pki_dir, "ca.der")
    q, spent = attempt(host="127.0.0.1", port=br.tls_port, tls=True, ca_file=ca)
    assert q.sock is not None and spent < 1.0  # a good TLS broker: at once
    mqtt_drop.close(q)
    proxy = TrickleProxy(br.tls_port, pace_s=0.02).start()  # the handshake, 50 bytes a second
    evil = TrickleBroker(pace_s=0.5, trickle_connack=True).start()  # 1.5 s for a CONNACK
    try:
        q, spent = attempt(host="127.0.0.1", port=proxy.port, tls=True, ca_file=ca)
        assert q.sock is None and 0.95 <= spent < 1.5, spent
        assert "the TLS handshake took more than 1 s" in q.problem
        q, spent = attempt(host="127.0.0.1", port=evil.port)
        assert q.sock is None and 0.95 <= spent < 1.5, spent
        assert "the CONNECT took more than 1 s" in q.problem
    finally:
        proxy.stop()
        evil.stop()
