"""Hostile HTTP servers on 127.0.0.1, plain TCP or real TLS (the test PKI of tools/sim/certs.py),
for the HTTP client's tests and the fault suite.

    server = Hostile("trickle-body", pki=pki).start()   # pki: tools.sim.certs.make(folder); TLS
    ... Connection("127.0.0.1", server.port, tls=True, timeout_s=1) ...
    server.stop()

`behaviour` (one of BEHAVIOURS) may be changed while the server runs: it is read for each
request. Every reply the server plays ends by `limit_s` at the latest (then the server hangs up),
so a client without a deadline is slow, not stuck. TrickleProxy passes another server's bytes
back one at a time with pauses (tools/sim/trickle.py): a dribbled TLS handshake, or a trickling
Envoy in front of the simulated one (TrickleProxy(sim.envoy.port)).
"""

import socket
import ssl
import time

from tools.sim.trickle import Listener, TrickleProxy, drop  # noqa: F401 (TrickleProxy: for the tests)

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


def _trickle(server, data):
    for i in range(len(data)):
        yield data[i : i + 1]
        yield server.pace_s


def _forever(server, make):
    # make(i) -> bytes, for ever (until limit_s)
    i = 0
    while True:
        yield make(i)
        i += 1


def _ok(server):
    yield OK


def _once(server):
    # The server's first request is answered, the others never.
    return _ok(server) if server.count == 1 else _silent(server)


def _large(server):
    yield b"HTTP/1.1 200 OK\r\nContent-Length: 8000\r\n\r\n" + b"y" * 8000


def _silent(server):
    while True:
        yield 0.05


def _trickle_status(server):
    yield from _trickle(server, OK)


def _trickle_headers(server):
    yield b"HTTP/1.1 200 OK\r\n"
    while True:
        yield from _trickle(server, b"X-Slow: 1\r\n")


def _trickle_body(server):
    yield b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
    yield from _trickle(server, b"x" * 100)


def _endless_headers(server):
    yield b"HTTP/1.1 200 OK\r\n"
    yield from _forever(server, lambda i: b"X-Filler-%d: %s\r\n" % (i, b"f" * 40))


def _chunked_head(server):
    yield b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n"


def _endless_trailers(server):
    yield from _chunked_head(server)
    yield from _forever(server, lambda i: b"X-Trailer-%d: t\r\n" % i)


def _slow_trailers(server):
    yield from _chunked_head(server)
    while True:
        yield from _trickle(server, b"X-Trailer: t\r\n")


def _cookie_flood(server):
    yield b"HTTP/1.1 200 OK\r\n"
    yield from _forever(server, lambda i: b"Set-Cookie: c%d=%s; Path=/\r\n" % (i, b"v" * 64))


def _big_cookies(server):
    # Three cookies of 900 bytes: each line is fine, together they are too much.
    yield b"HTTP/1.1 200 OK\r\n"
    for i in range(3):
        yield b"Set-Cookie: big%d=%s; Path=/\r\n" % (i, b"v" * 900)
    yield b"Content-Length: 2\r\n\r\nok"


def _interim(server):
    yield b"HTTP/1.1 100 Continue\r\n\r\n"
    yield b"HTTP/1.1 102 Processing\r\n\r\n"
    yield b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n"
    body = b"final %d" % server.count
    yield b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def _interim_flood(server):
    yield from _forever(server, lambda i: b"HTTP/1.1 100 Continue\r\n\r\n")


def _bad_chunk(server):
    yield b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    yield server.chunk_size + b"\r\nhello\r\n0\r\n\r\n"


def _two_lengths(server):
    yield b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!"


def _same_lengths(server):
    yield b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"


def _non_utf8(server):
    yield b"HTTP/1.1 200 OK\r\n%s: a\xff\xfeb\r\nContent-Length: 2\r\n\r\nok" % server.bad_header


def _long_line(server):
    yield b"HTTP/1.1 200 OK\r\nX-Long: %s\r\nContent-Length: 2\r\n\r\nok" % (b"L" * 2000)


def _extra_bytes(server):
    # A reply followed by bytes nobody asked for: the client must not read them as the next reply.
    yield OK + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"


STALE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"


def _late_reply(server):
    # Two replies to one request, the second a moment later (the simulator once did this): the
    # client must not take the second for its next request's reply.
    yield OK
    yield 0.1
    yield STALE


def _body_after_204(server):
    # A 204 with a body that comes a moment later and looks like a reply; every second request.
    if server.count % 2 == 0:
        yield from _ok(server)
        return
    yield b"HTTP/1.1 204 No Content\r\nContent-Length: %d\r\n\r\n" % len(STALE)
    yield 0.1
    yield STALE


BEHAVIOURS = {
    "ok": _ok,
    "silent": _silent,  # reads the request, never answers
    "large": _large,  # an 8000-byte body, at full speed
    "once": _once,  # answers the first request it gets, then is silent
    "trickle-status": _trickle_status,  # the whole reply, a byte every pace_s
    "trickle-headers": _trickle_headers,  # header lines a byte at a time, for ever
    "trickle-body": _trickle_body,
    "endless-headers": _endless_headers,  # at full speed
    "endless-trailers": _endless_trailers,  # after the last chunk, at full speed
    "slow-trailers": _slow_trailers,
    "cookie-flood": _cookie_flood,
    "big-cookies": _big_cookies,
    "interim": _interim,  # 100, 102, 103, then the final reply ("final <n>")
    "interim-flood": _interim_flood,
    "bad-chunk": _bad_chunk,  # a chunk whose size line is chunk_size
    "two-lengths": _two_lengths,
    "same-lengths": _same_lengths,
    "non-utf8": _non_utf8,  # bad_header with a value that is not UTF-8
    "long-line": _long_line,
    "extra-bytes": _extra_bytes,
    "late-reply": _late_reply,  # a second reply 0.1 s after the first, unasked
    "body-after-204": _body_after_204,  # then 0.1 s later a body that looks like a reply
}


class Hostile(Listener):
    """An HTTP/1.1 server that answers each request as `behaviour` says (see BEHAVIOURS).

    pki: the dict of tools.sim.certs.make(): serve TLS with its certificate `cert` ("envoy": the
    self-signed Envoy one; "cloud": signed by the test CA, for 127.0.0.1). None: plain TCP.
    Counts: connections, handshakes, requests (the request heads, bytes), count (requests).
    """

    def __init__(self, behaviour="ok", pki=None, cert="envoy", pace_s=0.2, limit_s=6.0):
        super().__init__(limit_s)
        self.behaviour = behaviour
        self.pki = pki
        self.cert = cert
        self.pace_s = pace_s
        self.chunk_size = b"-3"
        self.bad_header = b"Set-Cookie"
        self.handshakes = 0
        self.requests = []
        self.count = 0
        self._ctx = None
        if pki is not None:
            self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ctx.load_cert_chain(pki[cert + "_pem"], pki[cert + "_key"])

    def _serve(self, conn):
        if self._ctx is None:
            return self._play(conn)
        conn.settimeout(10)
        conn = self._ctx.wrap_socket(conn, server_side=True)
        self._track(conn)
        self.handshakes += 1
        try:
            self._play(conn)
        finally:
            drop(conn)

    def _play(self, conn):
        conn.settimeout(self.limit_s)
        pending = b""
        while not self._stopping.is_set():
            head, pending = _read_request(conn, pending)
            if head is None:
                return
            self.requests.append(head)
            self.count += 1
            until = time.monotonic() + self.limit_s
            for piece in BEHAVIOURS[self.behaviour](self):
                if isinstance(piece, bytes):
                    conn.sendall(piece)
                elif not self._sleep(piece, until):
                    return  # hang up: a reply that never ends ends here
                if time.monotonic() > until:
                    return


class Unaccepting:
    """A port whose accept queue is full: a client's connect() gets no answer (the SYN is
    dropped), as with a host that is gone from the network."""

    def __init__(self):
        self.port = None
        self._socks = []

    def start(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        self.port = listener.getsockname()[1]
        self._socks = [listener]
        for _ in range(4):  # fill the backlog
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self._socks.append(s)
        time.sleep(0.1)
        return self

    def stop(self):
        for s in self._socks:
            s.close()
        self._socks = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _read_request(conn, pending):
    # One request (head and Content-Length body): (head bytes, what follows); (None, b"") at EOF.
    while b"\r\n\r\n" not in pending:
        if len(pending) > 65536:
            return None, b""
        data = conn.recv(4096)
        if not data:
            return None, b""
        pending += data
    head, _, rest = pending.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        data = conn.recv(4096)
        if not data:
            return None, b""
        rest += data
    return head, rest[length:]
