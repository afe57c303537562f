# A small HTTP/1.1 client over socket + tls: one kept-alive connection per host, Content-Length and
# chunked bodies read into one reusable buffer with a size cap, Set-Cookie captured, redirects
# returned (not followed), timeouts on connect and read. After any error the connection is closed:
# a TLS socket is dead after a timeout (mbedtls keeps the error). micropython-lib `requests` is not
# used: it never verifies certificates, and has no keep-alive and no cookies.
import socket

from firmware.compat import const, json_loads, peer_sha256, stream, tls_context

CAP = const(16384)
_LINE = const(1024)  # the longest status or header line we accept
_WANTED = (
    b"content-length",
    b"transfer-encoding",
    b"connection",
    b"set-cookie",
    b"location",
    b"content-type",
)
_WANTED_LENGTHS = (14, 17, 10, 8, 12)


class HTTPError(Exception):
    """The server's reply broke HTTP or our limits (not a network error: those are OSError)."""


class Response:
    def __init__(self, status, raw, length, cookies, location, content_type):
        self.status = status
        # The body lives in the connection's buffer, valid until its next request: raw is that
        # bytearray (for find() without copies), length the body's size, body a memoryview.
        self.raw = raw
        self.length = length
        self.body = memoryview(raw)[:length] if length else memoryview(b"")
        self.cookies = cookies  # ["name=value", ...]
        self.location = location
        self.content_type = content_type

    def json(self):
        return json_loads(self.body)

    def looks_like_html(self):
        for i in range(min(64, self.length)):
            c = self.raw[i]
            if c not in b" \t\r\n":
                return c == 60  # "<"
        return False


class Connection:
    def __init__(self, host, port, tls=True, cadata=None, check_peer=None, timeout_s=10, cap=CAP):
        """tls: use TLS. cadata: DER CA certificates to verify the server against (and its name).
        check_peer(sha256 bytes or None): called after the handshake, before anything is sent;
        it raises to refuse the server (certificate pinning)."""
        self.host = host
        self.port = port
        self.host_header = host if port in (80, 443) else "%s:%d" % (host, port)
        self.timeout = timeout_s
        self.cap = cap
        self.handshakes = 0
        self._tls = tls
        self._cadata = cadata
        self._check_peer = check_peer
        self._ctx = None
        self._seen = None
        self.sock = None
        self._body = None

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def connect(self):
        """Open the connection (and check the peer's certificate); send() does it as needed."""
        addr = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM)[0][-1]
        raw = socket.socket()
        try:
            raw.settimeout(self.timeout)  # covers connect, handshake and every read
            raw.connect(addr)
            sock = raw
            if self._tls:
                if self._ctx is None:
                    self._ctx, self._seen = tls_context(self._cadata, self._check_peer is not None)
                self._seen[0] = None
                if self._cadata:
                    sock = self._ctx.wrap_socket(raw, server_hostname=self.host)
                else:
                    sock = self._ctx.wrap_socket(raw)
                self.handshakes += 1
                if self._check_peer is not None:
                    self._check_peer(peer_sha256(sock, self._seen))
            self.sock = stream(sock)
        except BaseException:
            raw.close()
            raise

    def head(self, method, path, headers=(), body=None):
        """The request line and headers as bytes; build once and reuse for repeated requests."""
        parts = ["%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, self.host_header)]
        for name, value in headers:
            parts.append("%s: %s\r\n" % (name, value))
        if body is not None:
            parts.append("Content-Length: %d\r\n" % len(body))
        parts.append("\r\n")
        return "".join(parts).encode()

    def request(self, method, path, headers=(), body=None):
        if type(body) is str:
            body = body.encode()
        return self.send(self.head(method, path, headers, body), body)

    def send(self, head, body=None):
        """Send a prepared request and read the reply. A kept-alive connection that the server
        closed while idle is reopened once, for requests without a body."""
        reused = self.sock is not None
        if not reused:
            self.connect()
        try:
            self.sock.write(head + body if body else head)  # one segment: no Nagle stall
            return self._response()
        except (OSError, _Closed) as e:
            self.close()
            # A kept-alive connection the server dropped while idle: try once on a new one.
            # Never after a timeout: a slow server must not cost twice the time.
            if reused and body is None and not _timed_out(e):
                return self.send(head)
            if isinstance(e, _Closed):
                raise HTTPError("the server closed the connection without replying")
            raise
        except BaseException:
            self.close()
            raise

    # -- reading ------------------------------------------------------------------------------
    # MicroPython's blocking read/readinto keep reading until the buffer is full, so never ask
    # for more than the protocol promises: readline() for the status, headers and chunk sizes,
    # exact lengths for bodies.

    def _readline(self):
        # One line, its CRLF included (no copy to strip it); None at the end of the stream.
        line = self.sock.readline(_LINE)
        if not line:
            return None
        if line[-1] != 10:  # "\n"
            if len(line) >= _LINE:
                raise HTTPError("a header line is longer than %d bytes" % _LINE)
            raise HTTPError("the reply ended inside a line")
        return line

    def _readinto(self, mv, what):
        got = 0
        while got < len(mv):
            n = self.sock.readinto(mv[got:])
            if not n:
                raise HTTPError("truncated %s: got %d of %d bytes" % (what, got, len(mv)))
            got += n

    def _room(self, n, keep=0):
        # The body buffer, grown to hold n bytes; its first `keep` bytes survive the growth.
        if n > self.cap:
            raise HTTPError("reply of more than %d bytes is over the cap" % self.cap)
        old = self._body
        if old is None or len(old) < n:
            self._body = bytearray(min(self.cap, max(n, 2048 if old is None else 2 * len(old))))
            if keep:
                self._body[:keep] = old[:keep]
        return memoryview(self._body)

    def _response(self):
        line = self._readline()
        if line is None:
            raise _Closed()
        parts = line.split(None, 2)
        if len(parts) < 2 or parts[0][:7] != b"HTTP/1." or not parts[1].isdigit():
            raise HTTPError("not an HTTP reply: %r" % line[:40].strip())
        status = int(parts[1])
        close = parts[0] == b"HTTP/1.0"
        length = None
        chunked = False
        cookies = []
        location = ctype = None
        while True:
            line = self._readline()
            if line is None:
                raise HTTPError("truncated headers")
            if len(line) <= 2:  # the empty line
                break
            colon = line.find(b":")
            if colon not in _WANTED_LENGTHS:  # Server, Date...: skip without copying
                continue
            name = line[:colon].lower()
            if name not in _WANTED:
                continue
            value = line[colon + 1 :].strip()
            if name == b"content-length":
                if not value.isdigit():
                    raise HTTPError("bad Content-Length %r" % value[:20])
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.lower() == b"close"
            elif name == b"set-cookie":
                cookies.append(str(value.split(b";", 1)[0].strip(), "utf-8"))
            elif name == b"location":
                location = str(value, "utf-8")
            elif name == b"content-type":
                ctype = str(value, "utf-8")
        if status < 200 or status in (204, 304):
            n = 0
        elif chunked:
            n = self._chunked()
        elif length is not None:
            self._readinto(self._room(length)[:length], "body")
            n = length
        else:
            n = self._to_eof()
            close = True
        if close:
            self.close()
        return Response(status, self._body if n else b"", n, cookies, location, ctype)

    def _chunked(self):
        total = 0
        while True:
            line = self._readline()
            if line is None:
                raise HTTPError("truncated body: the chunked reply ended early")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HTTPError("bad chunk size %r" % line[:20])
            if size == 0:
                while True:  # trailers, up to the empty line
                    line = self._readline()
                    if line is None or len(line) <= 2:
                        return total
            self._readinto(self._room(total + size, total)[total : total + size], "body")
            total += size
            line = self._readline()
            if line is None or len(line) > 2:
                raise HTTPError("a chunk is not followed by CRLF")

    def _to_eof(self):
        # HTTP/1.0-style reply without a length: the body ends when the server closes.
        total = 0
        while True:
            n = self.sock.readinto(self._room(total + 256, total)[total : total + 256])
            if not n:
                return total
            total += n


class _Closed(Exception):
    pass


def _timed_out(e):
    import errno

    # MicroPython: OSError(ETIMEDOUT); CPython: TimeoutError, whose errno is None.
    return isinstance(e, OSError) and (
        (e.args and e.args[0] == errno.ETIMEDOUT)
        or type(e).__name__ in ("TimeoutError", "timeout")
    )
