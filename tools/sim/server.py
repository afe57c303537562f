"""The HTTP/1.1 plumbing under the simulated Envoy, cloud and release server: a threaded server on
127.0.0.1, TLS handshakes in each connection's thread (counted), keep-alive, chunked replies, and
the body faults a test asks for (truncate, reset, oversize).

A Service subclass gives tls_context() (None: plain HTTP) and serve(handler), which answers with
handler.reply(status, body, ctype, headers, chunked, close).
"""

import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, owner: "Service", port: int) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", port), Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread, not in accept().
        ctx = self.owner.tls_context()
        cert = getattr(self.owner, "cert", None)  # the certificate this connection shows
        if ctx is not None:
            request.settimeout(10)
            try:
                request = ctx.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                self.owner.handshake_failures += 1
                return
            self.owner.handshakes += 1
            request.sim_cert = cert
        self.owner.connections.add(request)
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            self.owner.connections.discard(request)

    def handle_error(self, request, client_address):
        pass  # clients hanging up mid-reply are part of the tests


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server_version = "openresty/1.17.8.1"
    timeout = 30

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.owner.serve(self)

    def do_POST(self):
        self.server.owner.serve(self)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    server: _Server

    def reply(
        self,
        status: int,
        body: bytes | str = b"",
        ctype: str = "application/json",
        headers: Iterable[tuple[str, str]] = (),
        chunked: bool = False,
        close: bool = False,
    ) -> None:
        sim = self.server.owner
        fault = sim.fault
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        if fault == "oversize":
            body = body + b" " * (sim.OVERSIZE - len(body))
        if chunked and fault not in ("truncate", "reset"):
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if fault == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.close()
            return
        if fault == "reset":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            raw = self.connection
            raw.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            self.close_connection = True
            raw.close()
            return
        if chunked:
            # The Envoy sends production.json in chunks of varying size.
            for i in range(0, len(body), 1000):
                piece = body[i : i + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)


def server_context(pem: str, key: str) -> ssl.SSLContext:
    """A TLS server context with this certificate chain and key (files)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem, key)
    return ctx


def until_stopped(stop: Callable[[], None]) -> None:
    """A command's foreground: sleep until Ctrl-C or SIGTERM, then stop()."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in background
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        stop()


class Service:
    """A server on 127.0.0.1 in its own thread. TLS handshakes run in each connection's thread
    and are counted; stop() stops listening and drops every connection."""

    fault: str | None = None  # a failure Handler.reply() plays (the Envoy's)
    OVERSIZE = 0

    def __init__(self, port: int) -> None:
        self.port = port
        self.handshakes = 0
        self.handshake_failures = 0
        self.connections: set[socket.socket] = set()
        self._server: _Server | None = None

    def tls_context(self) -> ssl.SSLContext | None:
        raise NotImplementedError

    def serve(self, handler: "Handler") -> None:
        raise NotImplementedError

    def start(self) -> Self:
        self._server = _Server(self, self.port)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every connection: connections are refused until start()."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.drop()

    def drop(self) -> None:
        """Drop every connection, still listening."""
        for c in list(self.connections):
            try:
                c.shutdown(socket.SHUT_RDWR)  # close() alone leaves it open while a file uses it
                c.close()
            except OSError:
                pass
