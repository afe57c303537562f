# Home Assistant over MQTT, the part that stays loaded (only when mqtt.host is set): reading
# what arrives, and the state. Connecting and dropping (mqtt_link), commands (mqtt_cmd) and
# discovery (mqtt_ha) are loaded when needed and unloaded after. umqtt.simple (micropython-lib,
# frozen on the ESP32) connects and publishes; it trusts the broker when it reads (any size,
# reads that block byte by byte), so reading is done here: each packet has a size cap and one
# deadline, and a pass reads a few packets at most. No wait holds up the relay for long.
from errno import ETIMEDOUT

from firmware.compat import const, ticks_diff, ticks_ms, unload

PING_MS = const(20000)  # nothing heard this long: a ping; no answer within as long: drop
PACKET_MAX = const(128)  # the largest packet read whole: a command's topic and value
PER_PASS = const(4)
STATE = (  # the status() keys the state message carries
    "relay",
    "heating_w",
    "reason",
    "net_w",
    "age_s",
    "today_kwh",
    "total_kwh",
    "total_grid_kwh",
    "token_days",
    "mode",
    "mode_left_min",
    "boost_kwh",
    "boost_to_go_kwh",
    "max_import_w",
    "problem",
    "notice",
    "tank_c",
)


class Mqtt:
    def __init__(self, m, diverter):
        """m: the config's mqtt section; diverter: the Diverter it shows and commands."""
        self.m = m
        self.d = diverter
        self.uid = "diverter_" + diverter.board.unique_id()
        self.base = m["topic"] or self.uid
        self.timeout = diverter.board.timeout(3)  # connecting, each write, each packet read
        self.buf = bytearray(PACKET_MAX)  # the one read buffer, allocated early
        self.mv = memoryview(self.buf)
        self.client = self.raw = self.poller = self.tls = self.problem = self.since = None
        self.on_min = 60  # how long mode "on" forces the heater
        self.failures = self.next_try = self.next_state = self.heard = self.pinged = 0
        self.seen = -1  # the output's change count last published
        self.dirty = self.discover = False

    def _run(self, module, *args):
        # Rare work (connecting, a command, discovery): its module loaded for it, then dropped.
        name = "firmware." + module
        try:
            return __import__(name, None, None, ("run",)).run(self, *args)
        finally:
            unload(name)

    def receive(self, up):
        """Before the decision: connect when due, then act on what arrived (a command counts
        in this pass)."""
        if self.client is None:
            if up >= self.next_try:
                self._run("mqtt_link", up)
            return
        try:
            for _ in range(PER_PASS):
                if not any(self.poller.ipoll(0)):
                    break
                self._packet()
                self.heard, self.pinged = ticks_ms(), 0
            if self.pinged and ticks_diff(ticks_ms(), self.pinged) > PING_MS:
                raise OSError(ETIMEDOUT, "no answer to a ping")
        except Exception as e:
            self._run("mqtt_link", up, e)

    def send(self, up):
        """After the decision: discovery when due; the state at the interval and on every
        output change; a ping when the broker has been quiet."""
        c = self.client
        if c is None:
            return
        try:
            if self.discover:
                self.discover = False
                self._run("mqtt_ha")
            n = self.d.output.changes
            if self.dirty or n != self.seen or up >= self.next_state:
                self.dirty, self.seen = False, n
                self.next_state = up + self.m["interval_s"]
                c.publish(self.base + "/state", self.state())
            if not self.pinged and ticks_diff(ticks_ms(), self.heard) >= PING_MS:
                c.ping()
                self.pinged = ticks_ms() or 1
        except Exception as e:
            self._run("mqtt_link", up, e)

    def close(self):
        """The loop stops: "offline", then a clean disconnect."""
        if self.client is not None:
            self._run("mqtt_link", None)

    def state(self):
        """The one JSON state message, from the Diverter's status snapshot."""
        import json

        s = self.d.status()
        s = {k: s[k] for k in STATE}
        s["on_min"] = self.on_min
        return json.dumps(s).encode()  # bytes: the packet length counts bytes

    # -- reading, bounded ----------------------------------------------------------------------

    def _packet(self):
        # One packet, read non-blocking before one deadline.
        self.start = ticks_ms()
        self.raw.setblocking(False)
        try:
            buf = self.buf
            self._read(1)
            op = buf[0]
            n = shift = 0
            while True:  # the remaining length: 1 to 4 bytes
                self._read(1)
                n |= (buf[0] & 0x7F) << shift
                if not buf[0] & 0x80:
                    break
                shift += 7
                if shift > 21:
                    raise ValueError("a malformed packet length")
            if op & 0xF0 != 0x30 or n > PACKET_MAX:  # PINGRESP, SUBACK, an oversized message
                while n > 0:
                    k = min(n, PACKET_MAX)
                    self._read(k)
                    n -= k
                if op & 0xF0 == 0x30:
                    self._run("mqtt_cmd", None, b"")  # logs that it was ignored
            else:
                self._read(n)
                t = buf[0] << 8 | buf[1] if n >= 2 else n
                if op & 6 or t + 2 > n:
                    raise ValueError("a malformed or QoS>0 message")
                self._run("mqtt_cmd", bytes(self.mv[2 : 2 + t]), bytes(self.mv[2 + t : n]), op & 1)
        finally:
            self.raw.settimeout(self.timeout)

    def _read(self, n):
        got = 0
        while got < n:
            k = self.client.sock.readinto(self.mv[got:n])
            if k is None:  # nothing yet: wait, within the packet's deadline
                left = int(self.timeout * 1000) - ticks_diff(ticks_ms(), self.start)
                if left <= 0 or not any(self.poller.ipoll(left)):
                    raise OSError(ETIMEDOUT, "a packet took over %s s" % self.timeout)
            elif k == 0:
                raise OSError("the broker closed the connection")
            else:
                got += k
