# MQTT's connection, made (dropping one, or closing it: mqtt_drop.py). Loaded by mqtt.py to
# connect, then unloaded. The Diverter's loop asks for a connection after its decision, when one is
# due, never inside a publish: with the broker down, a pass costs one refused connection every
# back-off period. A connection attempt has one deadline for all of it (TCP connect, the TLS
# handshake, CONNECT and its CONNACK, SUBSCRIBE), as each of the Envoy's requests has: a broker,
# or anything at its address, that answers a byte at a time cannot hold the loop longer. Each step
# is a small function: this module loads into a heap that the diverter's run has fragmented, where
# kilobytes may be free and yet no block of 450 bytes (the bytecode of one function doing it all,
# which failed to load there at 18 KB of headroom).
import socket
from errno import ETIMEDOUT

from firmware import console
from firmware.compat import stream, ticks_diff, ticks_ms, tls_wrap, waiter
from firmware.http import timed_out
from firmware.mqtt import packet

POLLIN, POLLOUT = 1, 4  # select's
REFUSED = {
    1: "the broker refused MQTT 3.1.1",
    2: "the broker refused the client id",
    3: "the broker is unavailable",
    4: "the broker refused the user name or password",
    5: "the broker refused the login (not authorised: check mqtt.user and mqtt.password)",
}


def run(q, up):
    """q: the mqtt.Mqtt; connect (a failure is dropped with back-off by mqtt_drop)."""
    connect(q, up)


def connect(q, up):
    at = [ticks_ms(), "connecting", None]  # the attempt: its start, its step, its socket
    try:
        _hello(q, at, _open(q, at))
    except Exception as e:
        _failed(q, up, at, e)
        return
    _connected(q, up, at[2])


def _left(q, at):
    return q.packet_ms - ticks_diff(ticks_ms(), at[0])


def _open(q, at):
    # The TCP connection (connect is one call: its timeout bounds it), then TLS if asked.
    raw = at[2] = socket.socket()
    addr = _address(q)
    if _left(q, at) <= 0:
        raise OSError(ETIMEDOUT, "")
    raw.settimeout(_left(q, at) / 1000)
    raw.connect(addr)
    raw.setblocking(False)
    q.ready = waiter(raw)
    wait = _waits(q, at, q.ready)
    if q.m["tls"]:
        at[1] = "the TLS handshake"
        at[2] = _handshake(q, raw, wait)
    return wait


def _waits(q, at, ready):
    def wait(event):  # for the socket, never past the attempt's deadline
        ms = _left(q, at)
        return ms > 0 and ready(event, ms)

    return wait


def _handshake(q, raw, wait):
    try:
        return tls_wrap(_context(q), raw, q.m["host"], wait)
    except ValueError as e:  # MicroPython's certificate errors; CPython's are OSError
        raise ValueError("the broker's certificate is not trusted (%s)" % _first(e))


def _hello(q, at, wait):
    sock = at[2] = stream(at[2])
    at[1] = "the CONNECT"
    _write(sock, wait, _connect_packet(q))
    _connack(_read(sock, wait, 4))
    at[1] = "the SUBSCRIBE"
    _write(sock, wait, _subscribe_packet(q))


def _failed(q, up, at, e):
    q.ready = None
    try:
        at[2].close()
    except Exception:
        pass
    if timed_out(e):
        e = OSError(ETIMEDOUT, "%s took more than %g s" % (at[1], q.timeout))
    from firmware.compat import unload
    from firmware.mqtt_drop import drop

    drop(q, up, e)
    unload("firmware.mqtt_drop")


def _connected(q, up, sock):
    m = q.m
    q.sock, q.out = sock, None
    q._expect()
    q.since, q.heard, q.pinged = up, ticks_ms(), 0
    q.discover, q.entity, q.dirty = up, 0, True
    q.publish(q.base + "/status", b"online", True)
    if q.problem:
        console.log("ok: recovered (mqtt)")
        q.problem = None
    console.log(
        "mqtt: connected to %s:%d%s as %s; state on %s/state, discovery under %s"
        % (m["host"], m["port"], " (TLS)" if m["tls"] else "", q.uid, q.base, m["prefix"])
    )


def _address(q):
    # A name lookup may hold the loop for seconds (lwIP's resolver, no deadline of ours): it runs
    # while the heater is off, or for an IP address; the address found then serves the
    # reconnections while the heater is on.
    m = q.m
    on = q.d is not None and q.d.output.power and not _numeric(m["host"])
    if q.addr is None or not on:
        if on:
            raise OSError(0, "its name is looked up only while the heater is off")
        q.addr = socket.getaddrinfo(m["host"], m["port"], 0, socket.SOCK_STREAM)[0][-1]
    return q.addr


def _numeric(host):
    return all(c in "0123456789." for c in host)


def _context(q):
    if q.tls is None:  # one context for every reconnection
        from firmware.compat import tls_context
        from firmware.store import read_bytes

        path = q.m["ca_file"]
        der, why = read_bytes(path, 4096)
        if der is None:
            raise ValueError("mqtt.ca_file %s: %s" % (path, why or "not found"))
        q.tls = tls_context([der])[0]
    return q.tls


def _field(text):
    b = text if type(text) is bytes else text.encode()
    return bytes((len(b) >> 8, len(b) & 255)) + b


def _connect_packet(q):
    # Clean session, the last will "offline" (retained) on <base>/status, the login if any.
    m = q.m
    flags = 0x26  # clean session, will, will retain
    body = _field(q.uid) + _field(q.base + "/status") + _field(b"offline")
    if m["user"]:
        flags |= 0xC0 if m["password"] else 0x80
        body += _field(m["user"]) + (_field(m["password"]) if m["password"] else b"")
    k = m["keepalive_s"]  # the broker tells Home Assistant "offline" 1.5 times this after a loss
    head = b"\x00\x04MQTT\x04" + bytes((flags, k >> 8, k & 255))
    return packet(0x10, len(head) + len(body)) + head + body


def _subscribe_packet(q):
    # One SUBSCRIBE (QoS 0) for the commands and Home Assistant's birth message; the SUBACK
    # is read with the other packets, so nothing waits for it here.
    body = b"\x00\x01"  # packet id 1
    for t in (q.base + "/+/set", q.m["prefix"] + "/status"):
        body += _field(t) + b"\x00"
    return packet(0x82, len(body)) + body


def _connack(ack):
    if ack[0] != 0x20 or ack[1] != 2:
        raise ValueError("an unexpected reply to CONNECT")
    if ack[3]:
        code = ack[3]
        raise ValueError(REFUSED.get(code, "the broker refused the connection (code %d)" % code))


def _write(sock, wait, data):
    mv = memoryview(data)
    while mv:
        n = sock.write(mv)
        if n:
            mv = mv[n:]
        elif not wait(POLLOUT):
            raise OSError(ETIMEDOUT, "sending")


def _read(sock, wait, n):
    buf = bytearray(n)
    mv = memoryview(buf)
    got = 0
    while got < n:
        k = sock.readinto(mv[got:])
        if k is None:
            if not wait(POLLIN):
                raise OSError(ETIMEDOUT, "reading")
        elif not k:
            raise OSError(0, 0)  # DROPPED[0]
        else:
            got += k
    return buf


def _first(e):
    lines = [x for x in str(e).split("\n") if x.strip()]  # mbedtls: many lines
    return "; ".join(lines) or type(e).__name__
