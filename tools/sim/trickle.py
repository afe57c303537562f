"""A TCP proxy on 127.0.0.1 that trickles: the server's bytes come back a few at a time, with
pauses. A dribbled TLS handshake for the HTTP client's tests, and a trickling Envoy in front of
the simulated one for the fault table (tools/sim/faults.py):

    proxy = TrickleProxy(sim.envoy.port, pace_s=0).start()   # pace_s 0: passes bytes at once
    ... the client talks to proxy.port ...
    proxy.pace_s = 0.05                                      # from now on, a byte every 50 ms
    proxy.stop()

TrickleBroker is an MQTT broker of the worst kind: it accepts the connection (CONNACK), then
sends small packets for ever, a byte every pace_s, each byte in time for a per-packet deadline.
"""

import socket
import threading
import time
from typing import Self


class Listener:
    """A listener on 127.0.0.1 with a thread per connection; stop() drops everything."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.port = None
        self.connections = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self) -> Self:
        self._stopping.clear()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port or 0))
        listener.listen(16)
        listener.settimeout(0.05)
        self._listener = listener
        self.port = listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for s in list(self._open):
                drop(s)
            self._open.clear()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _accept(self):
        listener = self._listener
        while not self._stopping.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            self._track(conn)
            threading.Thread(target=self._guarded, args=(conn,), daemon=True).start()

    def _track(self, s):
        with self._lock:
            self._open.add(s)

    def _guarded(self, conn):
        try:
            self._serve(conn)
        except (OSError, ValueError):
            pass  # the client hung up, or we did (stop)
        finally:
            drop(conn)
            with self._lock:
                self._open.discard(conn)

    def _sleep(self, seconds, until):
        # False when the reply must end: stopped, or past limit_s.
        left = until - time.monotonic()
        if left <= 0 or self._stopping.wait(min(seconds, left)):
            return False
        return time.monotonic() < until


class TrickleProxy(Listener):
    """Forwards each connection to 127.0.0.1:upstream. The client's bytes go on at once; the
    server's come back `chunk` bytes at a time, `pace_s` apart, after the first `fast` bytes.
    pace_s 0 passes them on at once; it may change while connections are open. A trickling
    connection is dropped limit_s after its trickle began."""

    def __init__(
        self,
        upstream: int,
        pace_s: float = 0.2,
        chunk: int = 1,
        fast: int = 0,
        limit_s: float = 30.0,
    ) -> None:
        super().__init__(limit_s)
        self.upstream = upstream
        self.pace_s = pace_s
        self.chunk = chunk
        self.fast = fast

    def _serve(self, conn):
        up = socket.create_connection(("127.0.0.1", self.upstream), timeout=10)
        self._track(up)
        up.settimeout(None)  # stop() drops it
        threading.Thread(target=self._pump_up, args=(conn, up), daemon=True).start()
        until = None
        sent = 0
        while True:
            data = memoryview(up.recv(4096))
            if not data:
                return
            while data:
                if not self.pace_s:
                    n = len(data)
                elif sent < self.fast:
                    n = self.fast - sent
                else:
                    until = until or time.monotonic() + self.limit_s
                    if not self._sleep(self.pace_s, until):
                        return
                    n = self.chunk
                conn.sendall(data[:n])
                sent += len(data[:n])
                data = data[n:]

    def _pump_up(self, conn, up):
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                up.sendall(data)
        except OSError:
            pass
        finally:
            drop(up)


def drop(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


# Home Assistant's birth message: a PUBLISH of "online" on homeassistant/status.
ONLINE = b"\x30\x1c\x00\x14homeassistant/statusonline"
PINGRESP = b"\xd0\x00"


class TrickleBroker(Listener):
    """Answers CONNECT with a CONNACK (trickled too with trickle_connack), then sends `packet`
    again and again for ever: each packet's first byte at once, the next ones pace_s apart, so
    that each packet is whole within a per-packet deadline longer than (len - 1) * pace_s, and
    another one has always begun. Each connection ends after limit_s."""

    def __init__(
        self,
        packet: bytes = PINGRESP,
        pace_s: float = 0.1,
        trickle_connack: bool = False,
        limit_s: float = 600.0,
    ) -> None:
        super().__init__(limit_s)
        self.packet = packet
        self.pace_s = pace_s
        self.trickle_connack = trickle_connack
        self.sent = 0  # packets sent whole, over all connections

    def _serve(self, conn):
        conn.settimeout(10)
        if not conn.recv(4096):  # the CONNECT (and perhaps the SUBSCRIBE)
            return
        conn.settimeout(None)
        until = time.monotonic() + self.limit_s
        ack = b"\x20\x02\x00\x00"
        if not self.trickle_connack:
            conn.sendall(ack)
        elif not self._send(conn, ack, until):
            return
        while self._send(conn, self.packet, until):
            self.sent += 1

    def _send(self, conn, packet, until):
        for i in range(len(packet)):
            if i and not self._sleep(self.pace_s, until):
                return False
            conn.sendall(packet[i : i + 1])
        return True
