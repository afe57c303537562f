# MQTT against a hostile broker (issue 20), on a real Diverter with a fake board and a fake
# non-blocking socket (both runtimes): nothing the broker sends or withholds makes a pass wait,
# the decision judges the data with its own time, a flood of "online" costs one discovery a
# minute, and the burst output's missing grid allowance is neither offered nor fatal. The real
# broker, TLS and the trickling peers: host_tests/integration/test_mqtt_sec.py.
from support import contains, ha_configs
from test_diverter import apply, diverter, reading

from firmware import console, mqtt, mqtt_cmd, mqtt_ha, mqtt_link
from firmware.compat import sleep_ms, ticks_diff, ticks_ms

CONFIG = {
    "host": "192.0.2.1",
    "port": 1883,
    "user": "",
    "password": "",
    "tls": False,
    "ca_file": "",
    "prefix": "homeassistant",
    "topic": "",
    "interval_s": 10,
    "keepalive_s": 30,
}
BASE = "diverter_abc"


class Sock:
    """A connected non-blocking socket: readinto gives what the broker has sent so far (None
    when nothing has come), write takes what fits (None when its buffer is full)."""

    def __init__(self):
        self.incoming = b""
        self.sent = b""
        self.room = 1 << 20
        self.closed = False

    def readinto(self, mv):
        if not self.incoming:
            return None
        n = min(len(mv), len(self.incoming))
        mv[:n] = self.incoming[:n]
        self.incoming = self.incoming[n:]
        return n

    def write(self, data):
        n = min(len(data), self.room)
        if not n:
            return None
        self.sent += bytes(data[:n])
        self.room -= n
        return n

    def close(self):
        self.closed = True


def connected(output="relay", **settings):
    d, board = diverter(output=output)
    board.unique_id = lambda: "abc"
    m = dict(CONFIG)
    m.update(settings)
    q = mqtt.Mqtt(dict(d.cfg, mqtt=m), board, d.link)
    q.d, d.mqtt = d, q
    q.sock, q.ready = Sock(), lambda event, ms: True
    q.heard = ticks_ms()
    return d, board, q


def message(topic, value, flags=0x30):
    t = topic.encode()
    return mqtt.packet(flags, 2 + len(t) + len(value)) + bytes((0, len(t))) + t + value


def logged(fn, *args):
    # fn(*args), and what it logged (console.log and console.problem).
    lines = []
    log, problem = console.log, console.problem
    console.log = console.problem = lines.append
    try:
        fn(*args)
    finally:
        console.log, console.problem = log, problem
    return lines


def test_the_decision_judges_the_data_with_its_own_time():
    # A pass whose MQTT work took 40 s (the old client with a trickling broker): the reading,
    # fresh when the pass began, is stale when the decision is made, and the relay goes OFF.
    d, board = diverter()
    reading(d, board, -3000)
    assert apply(d) == (True, "surplus")
    d.link.poll = lambda up, on: False  # no new reading this pass

    class SlowMqtt:
        def receive(self, up):
            board.up += 40  # stale_s is 30

        def send(self, up):
            pass

    d.mqtt = SlowMqtt()
    d.next_minute = board.up + 3600
    d.step()
    assert not board.relay_on and d.output.reason == "stale"


def test_a_command_trickled_a_byte_a_pass_is_obeyed_and_no_pass_waits():
    d, board, q = connected()
    reading(d, board, -3000)
    assert apply(d) == (True, "surplus")
    data = message(BASE + "/mode/set", b"off")
    for i in range(len(data)):
        q.sock.incoming += data[i : i + 1]
        t = ticks_ms()
        q.receive(board.up)
        assert ticks_diff(ticks_ms(), t) < 100  # never waits for the rest
        assert q.sock is not None
    assert apply(d) == (False, "manual-off")


def test_no_room_for_mqtts_code_never_fails_the_diverters_pass():
    # A fragmented heap where mqtt_link (connecting), mqtt_drop (dropping after a failed
    # discovery) or mqtt_ha cannot load: MQTT backs off by itself, and the heater's decision
    # goes on.
    d, board, q = connected()
    q.sock = None  # not connected yet
    reading(d, board, -3000)
    d.link.poll = lambda up, on: False  # the reading above stays fresh
    loads = []

    def no_room(module, *args):
        loads.append(module)
        raise MemoryError("memory allocation failed, allocating 296 bytes")

    q._run = no_room
    d.next_minute = board.up + 3600
    lines = logged(d.step)
    assert loads == ["mqtt_link"] and q.sock is None and q.next_try == board.uptime() + 60
    assert board.relay_on and d.output.reason == "surplus"  # the pass went on
    contains(" ".join(lines), "no room in the heap for MQTT now; the relay logic carries on")
    lines = logged(d.step)  # no new try before next_try, and the problem is said once
    assert loads == ["mqtt_link"] and lines == [] and board.relay_on
    # Connected, then discovery cannot load, nor mqtt_drop to drop: the same back-off.
    q.sock, q.ready, q.heard = Sock(), lambda event, ms: True, ticks_ms()
    q.discover, q.problem = board.uptime(), None
    lines = logged(q.send, board.uptime())
    assert loads[1:] == ["mqtt_ha", "mqtt_drop"] and q.sock is None and q.discover is None
    contains(" ".join(lines), "no room in the heap for MQTT now")


def test_a_flood_is_read_a_few_messages_a_pass():
    d, board, q = connected()
    q.sock.incoming = message(BASE + "/on_min/set", b"5") * 30
    q.receive(0)
    left = len(q.sock.incoming)
    assert left == (30 - mqtt.PER_PASS) * len(message(BASE + "/on_min/set", b"5")), left
    assert q.on_min == 5


def test_a_packet_begun_and_never_finished_drops_the_connection():
    d, board, q = connected()
    q.packet_ms = 50
    q.sock.incoming = b"\x30\x10\x00"  # 16 bytes announced, 1 sent
    q.receive(0)
    assert q.sock is not None  # the rest may come in the next pass
    sleep_ms(80)
    lines = logged(q.receive, 0)
    assert q.sock is None and q.next_try > 0
    contains(" ".join(lines), "a packet took over")


def test_a_broker_that_takes_no_data_never_makes_a_pass_wait():
    d, board, q = connected()
    q.packet_ms = 50
    q.sock.room = 10  # the socket's buffer is full after 10 bytes
    t = ticks_ms()
    q.send(0)  # discovery, the state: what fits, and no wait for the rest
    assert ticks_diff(ticks_ms(), t) < 100 and q.out is not None
    q.send(1)
    assert len(q.sock.sent) == 10
    sleep_ms(80)
    lines = logged(q.receive, 2)
    assert q.sock is None
    contains(" ".join(lines), "the broker took no data")


def test_a_flood_of_online_resends_discovery_at_most_once_a_minute():
    d, board, q = connected()
    online = message("homeassistant/status", b"online")
    grid = b"homeassistant/sensor/diverter_abc/grid_w/config"
    for up in range(0, 130):
        q.sock.incoming += online * 3
        q.receive(up)
        q.send(up)
    assert q.sock is not None
    assert q.sock.sent.count(grid) == 3, q.sock.sent.count(grid)  # at 0, 60 and 120 s


def test_the_state_carries_the_battery_on_a_battery_site():
    from firmware import battery

    d, board, q = connected()
    reading(d, board, 0)
    b = battery.Battery({"priority": "battery", "min_soc": 50}, 200, 30, "storage CT eid 7")
    b.power(board.up, -1500)
    b.charge(64, 20)
    d.link.reading.battery = b
    import json

    s = json.loads("".join(q.state()))
    assert s["battery_w"] == -1500 and s["battery_soc"] == 64
    assert s["battery_first"] == "battery" and s["battery_problem"] is None
    d.link.reading.battery = None
    assert "battery_w" not in json.loads("".join(q.state()))  # a site without one: no such fields


def test_the_state_is_sent_in_small_parts_one_key_each():
    # A fragmented heap has kilobytes free and no long run: the state message is no dict of its
    # own and no block of its whole text, but a part a key, written one after another.
    import json

    d, board, q = connected()
    reading(d, board, 0)
    from firmware.link import Problem

    d.link.problem = Problem("envoy-error", "x" * 300)  # a long value: one part all the same
    parts = q.state()
    s = d.status()
    assert type(parts) is list and len(parts) == 2 + sum(k in s for k in mqtt.STATE)
    assert all(len(p) < 80 for p in parts if "x" * 100 not in p)
    want = {k: s[k] for k in mqtt.STATE if k in s}
    want["on_min"] = q.on_min
    assert json.loads("".join(parts)) == want
    q.publish(q.base + "/state", parts)
    assert bytes(q.sock.sent).endswith("".join(parts).encode())


class Q:
    # What mqtt_cmd uses of an mqtt.Mqtt.
    def __init__(self, d):
        self.d = d
        self.m = {"prefix": "homeassistant"}
        self.base = BASE
        self.on_min = 60
        self.dirty = False
        self.discover = None
        self.discovered = -60
        self.up = 0


def test_burst_mode_has_no_grid_allowance_and_the_command_is_ignored():
    d, board = diverter(output="burst")
    q = Q(d)
    lines = logged(mqtt_cmd.run, q, (BASE + "/max_import_w/set").encode(), b"650")
    contains(" ".join(lines), "ignored max_import_w=650: the burst output has no grid allowance")
    assert d.status()["max_import_w"] is None
    configs = dict(ha_configs("ha", "b", "u", mqtt_ha.offered(d.cfg, d.link.reading)))
    assert configs["ha/number/u/max_import_w/config"] == b""  # not offered in burst mode
    assert configs["ha/number/u/on_min/config"]
    assert dict(ha_configs("ha", "b", "u", "r"))["ha/number/u/max_import_w/config"]


def test_name_lookups_wait_for_the_heater_to_be_off():
    # lwIP's resolver may hold the loop for seconds with no deadline of ours: the broker's name
    # is looked up while the heater is off (or is an IP address), and its address serves the
    # reconnections while it is on; NTP's name lookup waits for the heater to be off.
    asked = []

    class Net:
        SOCK_STREAM = 1

        def getaddrinfo(self, host, port, *rest):
            asked.append(host)
            return [(2, 1, 0, "", ("127.0.0.1", 9))]  # nothing listens on port 9: refused

        def socket(self):
            import socket

            return socket.socket()

    real = mqtt_link.socket
    mqtt_link.socket = Net()
    try:
        d, board, q = connected(host="broker.lan")
        q.sock = None
        d.output.power = 1
        lines = logged(mqtt_link.connect, q, 0)
        contains(" ".join(lines), "its name is looked up only while the heater is off")
        assert asked == [] and q.sock is None
        d.output.power = 0
        logged(mqtt_link.connect, q, 10)
        assert asked == ["broker.lan"] and q.addr == ("127.0.0.1", 9)
        d.output.power = 1
        logged(mqtt_link.connect, q, 20)  # refused at the address found, no new lookup
        assert asked == ["broker.lan"]
        d, board, q = connected(host="192.168.1.5")
        d.output.power = 1
        logged(mqtt_link.connect, q, 0)
        assert asked[-1] == "192.168.1.5"  # an address needs no resolver
    finally:
        mqtt_link.socket = real
    synced = []
    d, board, q = connected()
    board.sync_clock = lambda: synced.append(1) or True
    d.link._clock(0, True)
    assert synced == []  # due, but the heater is on
    d.link._clock(1, False)
    assert synced == [1] and d.link.clock_ok


def test_the_connect_packet():
    d, board, q = connected(user="ha", password="pw")
    p = mqtt_link._connect_packet(q)
    body = (
        b"\x00\x04MQTT\x04\xe6\x00\x1e"  # 3.1.1; user, password, will retain, will, clean; 30 s
        + b"\x00\x0cdiverter_abc"
        + b"\x00\x13diverter_abc/status"
        + b"\x00\x07offline"
        + b"\x00\x02ha\x00\x02pw"
    )
    assert p == b"\x10" + bytes((len(body),)) + body
    assert mqtt.packet(0x30, 321) == b"\x30\xc1\x02"  # the remaining length, 7 bits a byte
    sub = mqtt_link._subscribe_packet(q)
    assert sub == b"\x82\x2e\x00\x01\x00\x12diverter_abc/+/set\x00\x00\x14homeassistant/status\x00"


def test_a_damaged_or_missing_entity_table_is_said_and_discovery_ends_without_it():
    # ha_entities.txt is read from flash a line at a time: a line that is not a row (a field
    # too many or too few, a line over the cap) or no file at all is said, the rows before it
    # are sent, and discovery ends (the update entity, then the state as usual): never a
    # dropped connection, nor a retry each pass.
    import io

    def missing():
        raise OSError(2)

    good = "sensor|grid_w|Grid power|net_w|" + '"unit_of_meas":"W"|\n'
    real = mqtt_ha.table
    try:
        for text in (
            good + "sensor|x|X|x|\n",
            good + "x" * 600 + "\n",
            good + "a|b|c|d|e|f|g\n",
            good + "sensor|y|Y|y|" + "x" * 150 + "|\n",  # a line over the cap
            good + "sensor|y|Y|y||\n" + "+x\n" * 5,  # continued too often
            good + "sensor|y|Y|y||\n+x",  # a continuation cut short
            None,
        ):
            d, board, q = connected()
            q.t0, q.spent, q.up, q.entity = ticks_ms(), 0, 0, 0
            mqtt_ha.table = missing if text is None else (lambda t=text: io.StringIO(t))
            lines = logged(mqtt_ha.run, q)
            said = [x for x in lines if "mqtt: Home Assistant's entities not sent: " in x]
            assert len(said) == 1, (text, lines)
            assert q.discover is None and q.entity == 0, text  # discovery is over
            assert (b"grid_w/config" in q.sock.sent) is (text is not None), text
            assert b"homeassistant/update/diverter_abc/firmware/config" in q.sock.sent
    finally:
        mqtt_ha.table = real


def test_a_stop_with_no_room_for_its_goodbye_closes_and_leaves_it_to_the_last_will():
    # Before a restart the heap may be too full for mqtt_drop's code: the socket is closed all
    # the same, without a problem line, and the broker publishes the will (retained "offline").
    d, board, q = connected()
    sock = q.sock
    run = q._run

    def no_room(module, *args):
        if module == "mqtt_drop":
            raise MemoryError("memory allocation failed, allocating 136 bytes")
        return run(module, *args)

    q._run = no_room
    lines = logged(q.close)
    assert sock.closed and q.sock is None and q.problem is None
    assert lines == [
        "mqtt: closed without its goodbye (no room for its code); the last will says offline"
    ]
    assert b"\xe0\x00" not in bytes(sock.sent)  # no DISCONNECT: the broker keeps the will


def test_a_stop_finishes_the_packet_going_out_then_says_offline_and_disconnects():
    # A stop during discovery: the half-sent config is finished first; "offline" written into
    # its middle would be read by the broker as the rest of it, and the DISCONNECT lost.
    d, board, q = connected()
    q.sock.room = 5
    whole = message("x/y", b"0123456789")
    assert q.publish("x/y", b"0123456789") and q.out is not None  # 5 bytes of it went
    q.sock.room = 1 << 20
    sock = q.sock
    q.close()
    offline = message(BASE + "/status", b"offline", 0x31)
    assert sock.sent == whole + offline + b"\xe0\x00" and sock.closed
    assert q.sock is None
