# MQTT's connection dropped with back-off, or closed: loaded by mqtt.py (and by mqtt_link.py
# for a failed attempt) for that, then unloaded, so that connecting loads none of it.
from errno import ETIMEDOUT

from firmware import console
from firmware.compat import const, ticks_diff, ticks_ms

_RETRY_S = const(5)  # after a failure: 5 s, doubling up to _RETRY_MAX_S
_RETRY_MAX_S = const(300)
_STABLE_S = const(60)  # a connection that lasted this long starts the back-off afresh
_POLLOUT = const(4)  # select's
DROPPED = (  # mqtt.py's reasons for a drop, by number (mqtt._CLOSED...)
    "the broker closed the connection",
    "a malformed packet length",
    "a malformed or QoS>0 message",
    "a packet took over %g s",
    "the broker took no data for %g s",
    "no answer to a ping",
)


def run(q, up, err=None):
    """q: the mqtt.Mqtt. up None: close; else drop after err."""
    if up is None:
        close(q)
    else:
        drop(q, up, err)


def _shut(q):
    if q.sock is not None:
        try:
            q.sock.close()
        except Exception:
            pass
    q.sock = q.ready = q.out = None


def drop(q, up, err):
    _shut(q)
    stable = q.since is not None and up - q.since >= _STABLE_S
    q.failures = 1 if stable else q.failures + 1
    q.since = q.discover = None
    q.next_try = up + min(_RETRY_MAX_S, _RETRY_S << min(q.failures - 1, 6))
    text = "mqtt: %s:%d: %s; the relay logic carries on, reconnecting with back-off" % (
        q.m["host"],
        q.m["port"],
        why(err, q.timeout),
    )
    if text != q.problem:
        console.problem(text)
        q.problem = text


def close(q):
    # The packet going out finished (one cut short would swallow the next), then "offline"
    # (retained), then DISCONNECT: what the socket takes within the timeout.
    start, ms = ticks_ms(), q.packet_ms
    try:
        for step in (0, 1, 2):
            while q.out is not None:
                left = ms - ticks_diff(ticks_ms(), start)
                if left <= 0 or not q.ready(_POLLOUT, left):
                    raise OSError(ETIMEDOUT, "closing")
                q._flush()
            if step == 0:
                q.publish(q.base + "/status", b"offline", True)
            elif step == 1:
                q.put(b"\xe0\x00")  # DISCONNECT
    except Exception:
        pass
    _shut(q)
    q.next_try = 0


def why(err, timeout):
    if isinstance(err, OSError) and len(err.args) == 2 and type(err.args[1]) is int:
        text = DROPPED[err.args[1]]  # mqtt.py's
        return text % timeout if "%" in text else text
    if isinstance(err, OSError) and len(err.args) == 2 and isinstance(err.args[1], str):
        return err.args[1]
    if type(err) is ValueError and err.args and isinstance(err.args[0], str):
        return err.args[0]
    from firmware.reasons import why as link_why

    return link_why(err)
