# A small HTTP/1.1 client over socket + tls: one kept-alive connection per host, Content-Length and
# chunked bodies read into one reusable buffer with a size cap, Set-Cookie captured, redirects
# returned (not followed). Each request has one deadline, timeout_s after it starts, for all of
# it: connect, TLS handshake, sending and every byte of the reply; a server or a link that
# trickles bytes cannot hold the caller longer. Sockets are non-blocking and the one place that
# waits is Connection._wait. Header lines, cookies and interim (1xx) replies are capped too.
# After any error the connection is closed: a TLS socket is dead after an error (mbedtls keeps
# it). micropython-lib `requests` is not used: it never verifies certificates, and has no
# keep-alive and no cookies.
import socket
from errno import ETIMEDOUT
from select import POLLIN, POLLOUT

from firmware.compat import (
    const,
    json_loads,
    peer_sha256,
    stream,
    ticks_diff,
    ticks_ms,
    tls_context,
    tls_wrap,
    waiter,
)
from firmware.store import text, utf8

CAP = const(16384)
_LINE = const(1024)  # the longest status or header line
_FIRST = const(256)  # the read buffer's size until a longer line comes (then _LINE)
_HEADERS = const(64)  # header lines in one reply, and trailer lines
_COOKIES = const(10)
_COOKIE_BYTES = const(2048)  # all the cookies of one reply
_INTERIM = const(4)  # 1xx replies before the final one
_NAMES = (  # the headers we read; the others are skipped without a copy
    b"content-length",
    b"transfer-encoding",
    b"connection",
    b"set-cookie",
    b"location",
    b"content-type",
)


class HTTPError(Exception):
    """The server's reply broke HTTP or our limits (not a network error: those are OSError)."""


class CertificateError(ValueError):
    """The TLS handshake refused the server's certificate (untrusted, expired, wrong name)."""


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
        if not utf8(self.body):  # ValueError, as json.loads raises for broken JSON
            raise ValueError("the reply is not UTF-8 text")
        return json_loads(self.body)

    def looks_like_html(self):
        for i in range(min(64, self.length)):
            c = self.raw[i]
            if c not in b" \t\r\n":
                return c == 60  # "<"
        return False


class _Wire:
    """Bytes in and out within the request's deadline, and the buffers they land in."""

    # -- time ---------------------------------------------------------------------------------

    def _begin(self):
        self._start = ticks_ms()
        self._budget = int(self.timeout * 1000)

    def _left(self):
        return self._budget - ticks_diff(ticks_ms(), self._start)

    def _wait(self, event):
        # The one place the client waits: until the socket is ready for event (select.POLLIN or
        # POLLOUT), never past the request's deadline. False when the time is up.
        left = self._left()
        return left > 0 and self._ready(event, left)

    def _timeout(self, what):
        return OSError(
            ETIMEDOUT, "%s:%d: %s took more than %g s" % (self.host, self.port, what, self.timeout)
        )

    def _write(self, data):
        n = self.sock.write(data)
        if n == len(data):
            return
        mv = memoryview(data)
        sent = n or 0
        while sent < len(mv):
            if not self._wait(POLLOUT):
                raise self._timeout("sending the request")
            n = self.sock.write(mv[sent:])
            sent += n or 0

    # -- reading ------------------------------------------------------------------------------
    # Bytes arrive in self._buf, lines are parsed where they lie; bodies go to self._body.

    def _recv(self, mv):
        # Some bytes into mv as soon as there are any: how many, 0 at the end of the stream.
        while self._left() > 0:  # checked even while bytes flow: a trickle must end too
            n = self.sock.readinto(mv)
            if n is not None:
                return n
            self._wait(POLLIN)
        raise self._timeout("the reply")

    def _fill(self):
        # More bytes after the unread ones in the buffer: how many, 0 at the end of the stream.
        if self._r == self._w:
            self._r = self._w = 0
        elif self._w == len(self._buf):  # full
            n = self._w - self._r
            old = self._mv
            if not self._r:  # by one unfinished line: _LINE bytes (_line() allows no more)
                self._buf = bytearray(_LINE)
                self._mv = memoryview(self._buf)
            self._mv[:n] = old[self._r : self._w]  # the unread bytes to the front
            self._r = 0
            self._w = n
        n = self._recv(self._mv[self._w :])
        self._w += n
        return n

    def _line(self):
        # The next line's start in the buffer; its text ends at self._e, the line (CRLF or LF
        # included) at self._r. -1 when the stream ends before the line begins.
        while True:
            buf = self._buf  # _fill() may replace it
            i = buf.find(b"\n", self._r, self._w)
            if i >= 0:
                start = self._r
                self._r = i + 1
                self._e = i - 1 if i > start and buf[i - 1] == 13 else i
                return start
            if self._w - self._r >= _LINE:
                raise HTTPError("a header line is longer than %d bytes" % _LINE)
            if not self._fill():
                if self._r == self._w:
                    return -1
                raise HTTPError("the reply ended inside a line")

    def _text(self, start, end, which):
        try:
            return text(self._mv[start:end])
        except ValueError:  # UnicodeError; the value is not shown: it may be a session id
            raise HTTPError("the %s header is not UTF-8 text" % str(_NAMES[which], "ascii"))

    def _take(self, dst):
        # Exactly len(dst) bytes of the reply into dst (a memoryview): the buffered ones first.
        got = min(len(dst), self._w - self._r)
        if got:
            dst[:got] = self._mv[self._r : self._r + got]
            self._r += got
        while got < len(dst):
            n = self._recv(dst[got:])
            if not n:
                raise HTTPError("truncated body: got %d of %d bytes" % (got, len(dst)))
            got += n

    def _room(self, n, keep=0):
        # The body buffer, grown to hold n bytes; its first `keep` bytes survive the growth.
        if n > self.cap:
            raise HTTPError("reply of more than %d bytes is over the cap" % self.cap)
        old = self._body
        if old is None or len(old) < n:
            # A quarter more than asked: the Envoy's next reply may be a few digits longer.
            grow = n + (n >> 2) if old is None else max(n, 2 * len(old))
            self._body = bytearray(min(self.cap, max(grow, 256)))
            if keep:
                self._body[:keep] = old[:keep]
        return memoryview(self._body)


class _Replies(_Wire):
    """HTTP/1.1 replies, parsed where they lie in the read buffer: status, headers, bodies."""

    def _response(self):
        for interim in range(_INTERIM + 1):
            start = self._line()
            if start < 0:
                if interim:
                    raise HTTPError("the reply ended after an interim (1xx) reply")
                raise _Closed()
            status, close = self._status(start)
            reply = self._headers()
            if status >= 200:
                break
            if status == 101:  # we never ask to switch protocols
                raise HTTPError("unexpected 101 Switching Protocols")
        else:
            raise HTTPError("more than %d interim (1xx) replies" % _INTERIM)
        length, chunked, closing, cookies, location, ctype = reply
        close = close or closing
        if status in (204, 304):
            n = 0
        elif chunked:
            n = _body("chunked", self)
        elif length is not None:
            self._take(self._room(length)[:length])
            n = length
        else:
            n = _body("to_eof", self)
            close = True
        if close or self._r != self._w:  # the server said so, or sent more than its reply
            self.close()
        return Response(status, self._body if n else b"", n, cookies, location, ctype)

    def _status(self, start):
        # "HTTP/1.x NNN reason": (status, whether the connection closes after the reply).
        buf = self._buf
        end = self._e
        status = -1
        if end - start >= 12 and buf.startswith(b"HTTP/1.", start) and buf[start + 8] == 32:
            if end == start + 12 or buf[start + 12] == 32:
                status = _digits(buf, start + 9, start + 12)
        if status < 100:
            raise HTTPError(
                "not an HTTP reply: %r" % bytes(self._mv[start : min(end, start + 40)])
            )
        return status, buf[start + 7] == 48  # HTTP/1.0 closes

    def _headers(self):
        # Up to the empty line: (length, chunked, close, cookies, location, content type).
        length = None
        chunked = close = False
        cookies = ()
        cookie_bytes = 0
        location = ctype = None
        for _ in range(_HEADERS + 1):
            start = self._line()
            if start < 0:
                raise HTTPError("truncated headers")
            buf = self._buf
            end = self._e
            if end == start:
                return length, chunked, close, cookies, location, ctype
            if buf[start] == 32 or buf[start] == 9:  # a folded Transfer-Encoding would be lost
                raise HTTPError("a folded header line (obsolete line folding)")
            colon = buf.find(b":", start, end)
            if colon <= start:
                raise HTTPError("a header line without a name and a colon")
            which = _which(buf, start, colon - start)
            if which < 0:  # Server, Date...: skipped without a copy
                continue
            v = colon + 1
            while v < end and (buf[v] == 32 or buf[v] == 9):
                v += 1
            end = _rstrip(buf, v, end)
            if which == 0:  # content-length
                n = _digits(buf, v, end)
                if n < 0:
                    raise HTTPError("bad Content-Length %r" % bytes(self._mv[v:end][:20]))
                if length is not None and n != length:
                    raise HTTPError("two different Content-Length headers: %d, %d" % (length, n))
                length = n
            elif which == 1:  # transfer-encoding
                chunked = b"chunked" in bytes(self._mv[v:end]).lower()
            elif which == 2:  # connection
                close = end - v == 5 and _same(buf, v, b"close")
            elif which == 3:  # set-cookie: name=value, without the attributes
                semi = buf.find(b";", v, end)
                if semi >= 0:
                    end = _rstrip(buf, v, semi)
                cookie_bytes += end - v
                if len(cookies) >= _COOKIES or cookie_bytes > _COOKIE_BYTES:
                    raise HTTPError(
                        "more than %d cookies or %d bytes of them" % (_COOKIES, _COOKIE_BYTES)
                    )
                if not cookies:
                    cookies = []
                cookies.append(self._text(v, end, which))
            elif which == 4:
                location = self._text(v, end, which)
            else:
                ctype = self._text(v, end, which)
        raise HTTPError("more than %d header lines" % _HEADERS)


class Connection(_Replies):
    """One kept-alive connection to one server, requests with a deadline, the one retry."""

    def __init__(self, host, port, tls=True, cadata=None, check_peer=None, timeout_s=10, cap=CAP):
        """tls: use TLS. cadata: DER CA certificates to verify the server against (and its name).
        check_peer(sha256 bytes or None): called after the handshake, before anything is sent;
        it raises to refuse the server (certificate pinning). timeout_s: the time each request
        may take, all of it (a new connection's handshake included)."""
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
        self._addr = None  # the server's address, kept: a name lookup has no deadline of ours
        self.sock = None
        self._ready = None  # compat.waiter() of the socket
        self._start = self._budget = 0  # the request's start (ticks_ms) and its time, ms
        self._buf = None  # the read buffer: bytes received and not parsed yet are [_r:_w]
        self._mv = None
        self._r = self._w = 0
        self._e = 0  # where the last line's text ends (before its CRLF)
        self._body = None

    def spare(self):
        """What the next connection to the same server can reuse: the read and body buffers and
        the TLS context. They are long-lived and large (a context is 1.8 KB on an ESP32), so
        they are allocated once, not again after a reconnection, in a heap then fragmented."""
        return self._buf, self._mv, self._body, self._ctx, self._seen

    def reuse(self, spare):
        self._buf, self._mv, self._body, self._ctx, self._seen = spare

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        self._ready = None

    def connect(self):
        """Open the connection (and check the peer's certificate) within timeout_s; send() does
        it as needed."""
        self._begin()
        self._connect()

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
        """Send a prepared request and read the reply, all within timeout_s. A kept-alive
        connection that the server closed while idle is reopened once, for requests without a
        body, within the same time."""
        self._begin()
        return self._exchange(head, body)

    # -- connection ---------------------------------------------------------------------------

    def _connect(self):
        # The server's name is looked up once, and again after a connection fails (it may have
        # moved): a reconnection while the heater is on (a kept-alive connection the server
        # closed) needs no lookup, which the ESP32's resolver may hold for seconds.
        if self._addr is None:
            self._addr = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM)[0][-1]
        addr = self._addr
        raw = sock = socket.socket()
        what = "connecting"
        try:
            left = self._left()
            if left <= 0:
                raise self._timeout(what)
            raw.settimeout(left / 1000)  # connect is one call: its timeout bounds it
            raw.connect(addr)
            raw.setblocking(False)
            self._ready = waiter(raw)
            if self._tls:
                what = "the TLS handshake"
                if self._ctx is None:
                    self._ctx, self._seen = tls_context(self._cadata, self._check_peer is not None)
                self._seen[0] = None
                hostname = self.host if self._cadata else None
                try:
                    sock = tls_wrap(self._ctx, raw, hostname, self._wait)
                except ValueError as e:  # MicroPython; CPython's is an OSError too
                    why = [x for x in str(e).split("\n") if x.strip()]  # mbedtls: many lines
                    raise CertificateError("; ".join(why) or type(e).__name__)
                self.handshakes += 1
                if self._check_peer is not None:
                    self._check_peer(peer_sha256(sock, self._seen))
            self._attach(stream(sock), self._ready)
        except BaseException as e:
            sock.close()
            self._ready = self._addr = None
            if timed_out(e):
                raise self._timeout(what)  # one message for a timeout on either runtime
            raise

    def _unsolicited(self):
        # Anything from the server between requests (a late or unsolicited reply, a body after
        # a 204) or its end: the kept-alive connection can no longer be trusted to frame the
        # next reply. Nothing is waited for; the read lands in the read buffer, unused now.
        self._r = self._w = 0
        try:
            return self.sock.readinto(self._mv) is not None
        except OSError:
            return True

    def _attach(self, sock, ready):
        # A new stream (the tests' fake ones too) and ready(event, ms) to wait for it.
        self.sock = sock
        self._ready = ready
        if self._buf is None:
            self._buf = bytearray(_FIRST)
            self._mv = memoryview(self._buf)
        self._r = self._w = 0

    def _exchange(self, head, body):
        reused = self.sock is not None
        if reused and self._unsolicited():
            self.close()  # never read as the reply to this request: a new connection
            reused = False
        if not reused:
            self._connect()
        try:
            self._write(head + body if body else head)  # one segment: no Nagle stall
            return self._response()
        except (OSError, _Closed) as e:
            self.close()
            # A kept-alive connection the server dropped while idle: try once on a new one.
            # Never after a timeout: a slow server must not cost twice the time.
            if reused and body is None and not timed_out(e):
                return self._exchange(head, None)
            if isinstance(e, _Closed):
                raise HTTPError("the server closed the connection without replying")
            raise
        except BaseException:
            self.close()
            raise


def _body(how, conn):
    # The rarer framings (chunks: production.json on 7.x and 8.x; to the close: HTTP/1.0) are
    # in http_body.py, loaded at the first such reply and kept: a site that polls
    # production.json reads chunks every poll.
    from firmware import http_body

    return getattr(http_body, how)(conn, HTTPError)


def _same(buf, at, name):
    # buf[at:] starts with name (lower case), in any case; no copy.
    for i in range(len(name)):
        c = buf[at + i]
        n = name[i]
        if c != n and (n < 97 or c != n - 32):
            return False
    return True


def _rstrip(buf, start, end):
    # end, moved back over blanks (no copy)
    while end > start and (buf[end - 1] == 32 or buf[end - 1] == 9):
        end -= 1
    return end


def _which(buf, start, k):
    # Index in _NAMES of the header name of length k at start, or -1.
    i = 0
    for name in _NAMES:
        if len(name) == k and _same(buf, start, name):
            return i
        i += 1
    return -1


def _digits(buf, start, end):
    # The decimal number in buf[start:end] (1 to 9 digits), or -1.
    if not 0 < end - start <= 9:
        return -1
    n = 0
    for i in range(start, end):
        c = buf[i] - 48
        if not 0 <= c <= 9:
            return -1
        n = n * 10 + c
    return n


class _Closed(Exception):
    pass


def timed_out(e):
    # MicroPython: OSError(ETIMEDOUT); CPython: TimeoutError, whose errno may be None.
    return isinstance(e, OSError) and (
        (e.args and e.args[0] == ETIMEDOUT) or type(e).__name__ in ("TimeoutError", "timeout")
    )


def spare_parts(body_bytes, tls=False, pin=False):
    """What Connection.reuse() takes, made ahead of any connection: a body buffer and, with tls,
    a TLS context (pin: see compat.tls_context). Made first, in a heap not yet fragmented, and
    kept, a context (1.8 KB on an ESP32) and a buffer never need a large block later."""
    body = bytearray(body_bytes)
    if not tls:
        return (None, None, body, None, None)
    ctx, seen = tls_context(None, pin)
    return (None, None, body, ctx, seen)
