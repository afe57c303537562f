# MQTT's connection: made, or dropped with back-off, or closed. Loaded by mqtt.py for each of
# these, then unloaded. The Diverter's loop calls for a connection when one is due, never a
# publish: with the broker down, a pass costs one refused connection every back-off period.
from firmware import console
from firmware.compat import ticks_ms

KEEPALIVE_S = 60
RETRY_S = 5  # after a failure: 5 s, doubling up to RETRY_MAX_S
RETRY_MAX_S = 300
STABLE_S = 60  # a connection that lasted this long starts the back-off afresh
REFUSED = {
    1: "the broker refused MQTT 3.1.1",
    2: "the broker refused the client id",
    3: "the broker is unavailable",
    4: "the broker refused the user name or password",
    5: "the broker refused the login (not authorised: check mqtt.user and mqtt.password)",
}


def run(q, up, err=None):
    """q: the mqtt.Mqtt. up None: close; err: drop after it; else connect."""
    if up is None:
        close(q)
    elif err is not None:
        drop(q, up, err)
    else:
        connect(q, up)


def connect(q, up):
    m = q.m
    try:
        from umqtt.simple import MQTTClient

        c = MQTTClient(
            q.uid, m["host"], m["port"], m["user"] or None, m["password"], KEEPALIVE_S, _tls(q)
        )
        c.set_last_will(q.base + "/status", "offline", True)
        q.client = c
        c.connect(True, q.timeout)  # the socket keeps this timeout for every write
        q.raw = q.tls.raw if q.tls else c.sock
        import select

        q.poller = select.poll()
        q.poller.register(c.sock, select.POLLIN)
        c.publish(q.base + "/status", b"online", True)
        _subscribe(q, c.sock)
    except Exception as e:
        drop(q, up, e)
        return
    q.since, q.heard, q.pinged = up, ticks_ms(), 0
    q.discover = q.dirty = True
    if q.problem:
        console.log("ok: recovered (mqtt)")
        q.problem = None
    console.log(
        "mqtt: connected to %s:%d as %s; state on %s/state, discovery under %s"
        % (m["host"], m["port"], q.uid, q.base, m["prefix"])
    )


class _Tls:
    # umqtt.simple calls ssl.wrap_socket(sock, server_hostname=host); the raw socket is kept
    # for its timeouts (a TLS socket has no settimeout).
    def __init__(self, ctx):
        self.ctx = ctx
        self.raw = None

    def wrap_socket(self, sock, server_hostname=None):
        self.raw = sock
        return self.ctx.wrap_socket(sock, server_hostname=server_hostname)


def _tls(q):
    if not q.m["tls"]:
        return None
    if q.tls is None:  # one context for every reconnection
        from firmware.compat import tls_context
        from firmware.store import read_bytes

        path = q.m["ca_file"]
        der, why = read_bytes(path, 4096)
        if der is None:
            raise ValueError("mqtt.ca_file %s: %s" % (path, why or "not found"))
        q.tls = _Tls(tls_context([der])[0])
    return q.tls


def _subscribe(q, sock):
    # One SUBSCRIBE (QoS 0) for the commands and Home Assistant's birth message; the SUBACK
    # is read with the other packets, so nothing waits for it here.
    body = bytearray(b"\x00\x01")  # packet id 1
    for t in (q.base + "/+/set", q.m["prefix"] + "/status"):
        body += bytes((len(t) >> 8, len(t) & 255)) + t.encode() + b"\x00"
    n = len(body)  # under 16 KB: topics are at most 64 characters
    sock.write(bytes((0x82, n)) if n < 128 else bytes((0x82, n & 127 | 128, n >> 7)))
    sock.write(body)


def _shut(q):
    c = q.client
    if c is not None and c.sock is not None:
        try:
            c.sock.close()
        except Exception:
            pass
    q.client = q.raw = q.poller = None


def drop(q, up, err):
    _shut(q)
    stable = q.since is not None and up - q.since >= STABLE_S
    q.failures = 1 if stable else q.failures + 1
    q.since = None
    q.next_try = up + min(RETRY_MAX_S, RETRY_S << min(q.failures - 1, 6))
    text = "mqtt: %s:%d: %s; the relay logic carries on, reconnecting with back-off" % (
        q.m["host"],
        q.m["port"],
        why(err),
    )
    if text != q.problem:
        console.problem(text)
        q.problem = text


def close(q):
    try:
        q.client.publish(q.base + "/status", b"offline", True)
        q.client.disconnect()
    except Exception:
        pass
    _shut(q)
    q.next_try = 0


def why(err):
    name = type(err).__name__
    if name == "MQTTException":
        code = err.args[0] if err.args else None
        return REFUSED.get(code, "the broker refused the connection (code %s)" % (code,))
    if name == "AssertionError":
        return "an unexpected reply to CONNECT"
    if name == "IndexError":
        return "the broker closed the connection"
    if isinstance(err, OSError) and len(err.args) == 2 and isinstance(err.args[1], str):
        return err.args[1]
    from firmware.reasons import why as link_why

    return link_why(err)
