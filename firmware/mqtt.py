# Home Assistant over MQTT, the part that stays loaded (only when mqtt.host is set): the broker's
# bytes read as they come, the state, a ping. The few MQTT 3.1.1 packets needed (CONNECT,
# SUBSCRIBE, PUBLISH with QoS 0, PINGREQ, DISCONNECT) are written here and in mqtt_link, on a
# non-blocking socket, so that nothing the broker does can hold the loop (the broker is untrusted
# input): a pass reads what has arrived and writes what the socket takes, without waiting; a
# packet not finished goes on in the next pass, and one that takes over 3 s (in or out) drops
# the connection. All of MQTT's work in a pass shares one time budget (_BUDGET_MS). Connecting
# (mqtt_link), dropping and closing (mqtt_drop), commands (mqtt_cmd) and discovery (mqtt_ha) are
# loaded when needed and unloaded after.
from errno import ETIMEDOUT

from firmware import console
from firmware.compat import const, ticks_diff, ticks_ms, unload, view

_BUDGET_MS = const(200)  # all of MQTT's work in one pass: reading, commands, discovery, sending
_PACKET_MAX = const(128)  # the largest message read whole: a command's topic and value
_NO_ROOM_S = const(60)  # no room in the heap for MQTT's code: the next try after this
_NO_ROOM = const("mqtt: no room in the heap for MQTT now; the relay logic carries on, retrying")
_BYE_FAILED = const(
    "mqtt: closed without its goodbye (no room for its code); the last will says offline"
)
PER_PASS = const(4)  # messages acted on in one pass
DISCOVERY_S = const(60)  # Home Assistant's "online" resends discovery at most this often
# Why a connection is dropped: OSError(errno, one of these), said in words by mqtt_drop.why
# (mqtt_drop.DROPPED, in this order), so that the words are not kept in RAM.
_CLOSED = const(0)
_BAD_LENGTH = const(1)
_BAD_MESSAGE = const(2)
_SLOW_IN = const(3)
_SLOW_OUT = const(4)
_NO_PONG = const(5)
STATE = (  # the status() keys the state message carries (and the battery's, on battery sites)
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
    "lag_s",
    "update_s",
    "burst_mode",
    "notice",
    "battery_w",
    "battery_soc",
    "battery_first",
    "battery_problem",
    "tank_c",
)


class Mqtt:
    def __init__(self, cfg, board, link):
        """cfg: the config (its mqtt section configured); link: the diverter's link.Link. Made
        at boot, before the Diverter (startup.py connects it then), which then gives itself as
        self.d, the Diverter to show and command."""
        self.cfg = cfg
        self.m = m = cfg["mqtt"]
        self.link = link
        self.d = None
        self.uid = "diverter_" + board.unique_id()
        self.base = m["topic"] or self.uid
        self.timeout = board.timeout(3)  # a connection attempt, all of it; a packet
        self.packet_ms = int(self.timeout * 1000)
        self.buf = bytearray(_PACKET_MAX)  # the one read buffer, allocated early
        self.mv = memoryview(self.buf)
        self.sock = self.ready = self.tls = self.problem = self.since = self.out = None
        self.addr = None  # the broker's address, found while the heater was off (mqtt_link)
        self.on_min = 60  # how long mode "on" forces the heater (the Diverter's kept setting)
        self.failures = self.next_try = self.next_state = self.heard = self.pinged = 0
        self.t0 = self.spent = self.began = self.sent_at = 0
        self.seen = -1  # the output's change count last published
        self.dirty = False
        self.discover = None  # uptime from which discovery is due (None: not due)
        self.entity = 0  # where discovery goes on (mqtt_ha: the table's next row)
        self.discovered = -DISCOVERY_S  # uptime of the last discovery's start
        self.battery_seen = False  # a battery's entities were offered (mqtt_ha.run)
        # Quiet for 2/3 of the keepalive: a ping, so that the broker never counts the board
        # gone while it runs; unanswered as long: the connection is dropped.
        self.ping_ms = m["keepalive_s"] * 667
        self._expect()

    def _run(self, module, *args):
        # Rare work (connecting, a command, discovery): its module loaded for it, then dropped.
        name = "firmware." + module
        try:
            return __import__(name, None, None, ("run",)).run(self, *args)
        finally:
            unload(name)

    def left(self):
        """Milliseconds left of this pass's budget."""
        return _BUDGET_MS - self.spent - ticks_diff(ticks_ms(), self.t0)

    def receive(self, up):
        """Before the decision: act on what has arrived (a command counts in this pass)."""
        self.t0, self.spent, self.up = ticks_ms(), 0, up
        if self.sock is None:
            return
        try:
            self._flush()
            self._read()
            self._overdue()
        except Exception as e:
            self._link(up, e)
        self.spent = ticks_diff(ticks_ms(), self.t0)

    def send(self, up):
        """After the decision: connect when due (and nothing else in that pass); else discovery
        when due, the state at the interval and on every output change, a ping when the broker
        has been quiet."""
        self.t0, self.up = ticks_ms(), up
        if self.sock is None:
            if up >= self.next_try:  # within its own deadline
                self._link(up)
            return  # discovery and the state from the next pass: less churn in one pass's heap
        try:
            self._flush()
            if self.discover is None and self.battery_seen != (
                self.link.reading.battery is not None
            ):
                self.discover, self.entity = up, 0  # a battery found or forgotten
            if self.discover is not None and up >= self.discover and self.left() > 0:
                self._run("mqtt_ha")
            n = self.d.output.changes
            if (self.dirty or n != self.seen or up >= self.next_state) and self.left() > 0:
                if self.publish(self.base + "/state", self.state()):
                    self.dirty, self.seen = False, n
                    self.next_state = up + self.m["interval_s"]
            if not self.pinged and ticks_diff(ticks_ms(), self.heard) >= self.ping_ms:
                if self.put(b"\xc0\x00"):  # PINGREQ
                    self.pinged = ticks_ms() or 1
        except Exception as e:
            self._link(up, e)

    def close(self):
        """The loop stops: "offline", then a clean disconnect."""
        if self.sock is not None:
            self._link(None)

    def _link(self, up, *err):
        # Connect (mqtt_link), or close (up None) or drop after err with back-off (mqtt_drop).
        # Never a failure of the diverter's pass: with no room in the heap for their code, the
        # same back-off here, and a close without its goodbye (the broker's last will, retained
        # "offline", tells Home Assistant as the goodbye would).
        try:
            self._run("mqtt_drop" if up is None or err else "mqtt_link", up, *err)
        except MemoryError:
            if self.sock is not None:
                try:
                    self.sock.close()
                except Exception:
                    pass
            self.sock = self.ready = self.out = self.since = self.discover = None
            if up is None:  # a stop: the broker says "offline" for the board all the same
                console.log(_BYE_FAILED)
                return
            self.failures += 1
            self.next_try = up + _NO_ROOM_S
            if self.problem != _NO_ROOM:
                self.problem = _NO_ROOM
                try:
                    console.problem(_NO_ROOM)
                except MemoryError:
                    pass

    def state(self):
        """The one JSON state message, from the Diverter's status snapshot, as a list of small
        parts (a key and its value each), which publish() writes one after another: no dict of
        its own and no large block of text in a fragmented heap."""
        from json import dumps

        s = self.d.status()
        out = ["{"]
        for k in STATE:
            if k in s:
                out.append('"%s":%s,' % (k, dumps(s[k])))
        out.append('"on_min":%d}' % self.on_min)
        return out

    # -- writing, never waiting ----------------------------------------------------------------

    def publish(self, topic, payload, retain=False):
        """A QoS 0 PUBLISH. payload: bytes, or a list of its parts (str or bytes), written one
        after another and never joined: a discovery config needs no large block of a
        fragmented heap. False when a packet is still going out: the caller tries again in a
        later pass."""
        if self.out is not None:
            return False
        t = view(topic)
        out = [None, t]
        n = 2 + len(t)
        for p in payload if type(payload) is list else (payload,):
            p = view(p)
            if len(p):  # an empty part would look like a full socket to _flush
                out.append(p)
                n += len(p)
        out[0] = packet(0x31 if retain else 0x30, n) + bytes((len(t) >> 8, len(t) & 255))
        return self.put(out)

    def put(self, data):
        """Start sending one packet (bytes, or a list of its parts as views); False (nothing
        done) while the last one is still going."""
        if self.out is not None:
            return False
        self.out = data if type(data) is list else [memoryview(data)]
        self.sent_at = ticks_ms()
        self._flush()
        return True

    def _flush(self):
        # As much of the packet going out as the socket takes now.
        out = self.out
        while out:
            n = self.sock.write(out[0])
            if not n:  # None: the socket's buffer is full; the rest in a later pass
                return
            if n < len(out[0]):
                out[0] = out[0][n:]
            else:
                out.pop(0)
        self.out = None

    # -- reading, never waiting ----------------------------------------------------------------
    # A packet is read in steps (its type, its length's 1 to 4 bytes, then its body), each step
    # into the buffer at self.mv[self.got:self.want]; what has not arrived yet waits for the
    # next pass, within packet_ms.

    def _expect(self, step=0, want=1):
        self.step, self.got, self.want = step, 0, want

    def _read(self):
        handled = 0
        while handled < PER_PASS and self.left() > 0:
            n = self.sock.readinto(self.mv[self.got : self.want])
            if n is None:  # nothing more has arrived
                return
            if not n:
                raise OSError(0, _CLOSED)
            if not self.step and not self.got:
                self.began = ticks_ms()
            self.got += n
            if self.got == self.want and self._next():
                handled += 1
                self.heard, self.pinged = ticks_ms(), 0

    def _next(self):
        # The step whose bytes are in: on to the next one. True when a packet is complete.
        buf, step = self.buf, self.step
        if step == 0:  # the packet's type
            self.op = buf[0]
            self.n = self.shift = 0
            self._expect(1)
        elif step == 1:  # its remaining length, 7 bits a byte
            self.n |= (buf[0] & 0x7F) << self.shift
            if buf[0] & 0x80:
                self.shift += 7
                if self.shift > 21:
                    raise OSError(0, _BAD_LENGTH)
                self._expect(1)
            elif self.op & 0xF0 == 0x30 and 0 < self.n <= _PACKET_MAX:
                self._expect(2, self.n)
            else:  # PINGRESP, SUBACK, an oversized message: skipped
                self.skip = self.n
                return self._skip(0)
        elif step == 2:  # a message, whole
            self._expect()
            self._message(self.n)
            return True
        else:
            return self._skip(self.got)
        return False

    def _skip(self, got):
        self.skip -= got
        if self.skip:
            self._expect(3, min(self.skip, _PACKET_MAX))
            return False
        self._expect()
        if self.op & 0xF0 == 0x30:
            self._run("mqtt_cmd", None, b"")  # logs that it was ignored
        return True

    def _message(self, n):
        mv = self.mv
        t = mv[0] << 8 | mv[1] if n >= 2 else n
        if self.op & 6 or t + 2 > n:
            raise OSError(0, _BAD_MESSAGE)
        self._run("mqtt_cmd", bytes(mv[2 : 2 + t]), bytes(mv[2 + t : n]), self.op & 1)

    def _overdue(self):
        # Anything the broker owes for too long ends the connection: a packet begun (in or
        # out), an answer to a ping.
        now, limit = ticks_ms(), self.packet_ms
        if (self.step or self.got) and ticks_diff(now, self.began) > limit:
            raise OSError(ETIMEDOUT, _SLOW_IN)
        if self.out is not None and ticks_diff(now, self.sent_at) > limit:
            raise OSError(ETIMEDOUT, _SLOW_OUT)
        if self.pinged and ticks_diff(now, self.pinged) > self.ping_ms:
            raise OSError(ETIMEDOUT, _NO_PONG)


def packet(kind, n):
    """An MQTT fixed header: the packet's type and flags, then its remaining length n."""
    head = bytearray((kind,))
    while True:
        if n < 128:
            head.append(n)
            return bytes(head)
        head.append(n & 127 | 128)
        n >>= 7
