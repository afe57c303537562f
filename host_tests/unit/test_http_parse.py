# firmware/http.py's reply reading on a fake stream (no sockets): framing, caps, strictness and
# the deadline. Shared by pytest and the micropython runner.
from errno import ETIMEDOUT

from support import contains, raises

from firmware.compat import sleep_ms, ticks_diff, ticks_ms
from firmware.http import CAP, Connection, HTTPError

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Stream:
    """The server's bytes: replies[0] once the first request is sent, replies[i] after the
    i-th request (each a list of pieces, at most one per read; None: a read that would block),
    then the end of the stream. Before the first request, nothing (a read would block)."""

    def __init__(self, replies, delay_ms=0):
        self.pieces = list(replies[0])
        self.later = list(replies[1:])
        self.delay_ms = delay_ms
        self.sent = []
        self.closed = False
        self.idle = False

    def readinto(self, buf):
        if not self.sent:
            return None  # the server answers requests
        if self.delay_ms:
            sleep_ms(self.delay_ms)
        if not self.pieces:
            if self.later and not self.idle:  # the next reply comes after the next request:
                self.idle = True  # nothing now (the client's look before it sends)
                return None
            return 0
        piece = self.pieces.pop(0)
        if piece is None:
            return None
        n = min(len(buf), len(piece))
        buf[:n] = piece[:n]
        if n < len(piece):
            self.pieces.insert(0, piece[n:])
        return n

    def write(self, data):
        self.idle = False
        self.sent.append(bytes(data))
        if len(self.sent) > 1 and self.later:
            self.pieces += self.later.pop(0)
        return len(data)

    def close(self):
        self.closed = True


def ready(event, ms):
    return True  # nothing to wait for: the next read has bytes (or None again)


def connection(pieces, timeout_s=5, wait=ready, delay_ms=0, later=()):
    conn = Connection("127.0.0.1", 9, tls=False, timeout_s=timeout_s)
    conn._attach(Stream([pieces] + list(later), delay_ms), wait)
    return conn


def get(conn):
    # A body (even empty) means no second try on a new connection: no sockets here.
    return conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"")


def reply(*pieces):
    return get(connection(pieces))


def bytewise(data):
    return [data[i : i + 1] for i in range(len(data))]


def refused(words, *pieces):
    e = raises(HTTPError, reply, *pieces)
    contains(str(e), words)
    return e


# -- framing ------------------------------------------------------------------------------------


def test_content_length_and_keep_alive():
    conn = connection([OK], later=[[b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc"]])
    r = get(conn)
    assert (r.status, bytes(r.body)) == (200, b"ok")
    r = get(conn)
    assert (r.status, bytes(r.body)) == (201, b"abc")
    assert conn.sock is not None and not conn.sock.closed


def test_a_reply_a_byte_at_a_time_and_with_blocked_reads():
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    for data in (OK, chunked):
        pieces = []
        for b in bytewise(data):
            pieces += [None, b]
        r = get(connection(pieces))
        assert bytes(r.body) in (b"ok", b"abcde")


def test_chunked_with_extensions_upper_case_hex_and_trailers():
    r = reply(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n"
        b"A;name=value\r\n0123456789\r\n1 ; x\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    assert bytes(r.body) == b"0123456789!"


def test_bad_chunk_sizes_are_refused():
    for size in (b"-3", b"0x2", b"1_0", b" +5", b"+5", b"", b"5 5", b"g", b"123456789", b" 5"):
        refused(
            "bad chunk size",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%s\r\nhello\r\n0\r\n\r\n"
            % size,
        )


def test_a_chunk_without_its_crlf_is_refused():
    refused(
        "not followed by CRLF",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n",
    )


def test_content_length_rules():
    r = reply(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length:2 \r\n\r\nok")
    assert bytes(r.body) == b"ok"
    e = refused(
        "two different Content-Length headers: 2, 3",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!",
    )
    assert "ok!" not in str(e)
    for value in (b"-1", b"+2", b"1e3", b"0x10", b"", b"2, 2", b"1234567890"):
        refused("bad Content-Length", b"HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\nok" % value)


def test_the_body_cap():
    refused("over the cap", b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (CAP + 1))
    r = reply(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % CAP, b"x" * CAP)
    assert r.length == CAP


def test_a_body_up_to_the_end_of_the_stream_closes_the_connection():
    conn = connection([b"HTTP/1.0 200 OK\r\n\r\n", b"all", b" of it"])
    assert bytes(get(conn).body) == b"all of it" and conn.sock is None


def test_bare_lf_line_ends_and_a_status_without_reason():
    r = reply(b"HTTP/1.1 204\nX-A: b\n\n")
    assert r.status == 204 and r.length == 0


def test_status_lines_that_are_not_http_are_refused():
    for line in (b"HTTP/2 200 OK", b"ICY 200 OK", b"HTTP/1.1 20 OK", b"HTTP/1.1 2000 OK"):
        refused("not an HTTP reply", line + b"\r\nContent-Length: 0\r\n\r\n")
    for line in (b"HTTP/1.1 099 x", b"HTTP/1.1  200 OK", b"http/1.1 200 OK", b"HTTP/1.1 2x0"):
        refused("not an HTTP reply", line + b"\r\nContent-Length: 0\r\n\r\n")


def test_http_1_0_and_connection_close_close_after_the_reply():
    for head in (b"HTTP/1.0 200 OK\r\n", b"HTTP/1.1 200 OK\r\nConnection: Close\r\n"):
        conn = connection([head + b"Content-Length: 2\r\n\r\nok"])
        assert bytes(get(conn).body) == b"ok" and conn.sock is None


def test_bytes_after_the_reply_close_the_connection():
    conn = connection([OK + b"HTTP/1.1 200 OK\r\n"])
    assert bytes(get(conn).body) == b"ok" and conn.sock is None


def test_a_stream_that_ends_early():
    refused("closed the connection without replying")
    refused("ended inside a line", b"HTTP/1.1 200 OK\r\nContent-Le")
    refused("truncated headers", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n")
    refused("truncated body: got 1 of 2 bytes", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no")


# -- headers, cookies, interim replies -----------------------------------------------------------


def test_set_cookie_location_and_content_type():
    r = reply(
        b"HTTP/1.1 302 Found\r\nSet-Cookie: sessionId=abc ; Secure; HttpOnly\r\n"
        b"SET-COOKIE:  b=2\r\nLocation: /login.html\r\nContent-Type: text/html\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert r.cookies == ["sessionId=abc", "b=2"]
    assert (r.location, r.content_type) == ("/login.html", "text/html")


def test_a_line_longer_than_the_first_read_buffer():
    where = "/" + "x" * 700
    long = b"HTTP/1.1 302 Found\r\nServer: s\r\nLocation: " + where.encode() + b"\r\n"
    long += b"Content-Length: 2\r\n\r\nok"
    for pieces in ([long], bytewise(long), [long[:300], None, long[300:]]):
        conn = connection(pieces, later=[[OK]])
        r = get(conn)
        assert (r.location, bytes(r.body)) == (where, b"ok")
        assert bytes(get(conn).body) == b"ok"  # and the next reply on the same connection


def test_cookie_caps():
    ten = b"".join(b"Set-Cookie: c%d=v\r\n" % i for i in range(10))
    assert len(reply(b"HTTP/1.1 200 OK\r\n" + ten + b"Content-Length: 0\r\n\r\n").cookies) == 10
    refused("more than 10 cookies", b"HTTP/1.1 200 OK\r\n" + ten + b"Set-Cookie: more=1\r\n\r\n")
    big = b"Set-Cookie: c=%s\r\n" % (b"v" * 900)
    refused("2048 bytes", b"HTTP/1.1 200 OK\r\n" + big * 3 + b"\r\n")


def test_header_caps():
    many = b"X-A: b\r\n" * 63
    assert reply(b"HTTP/1.1 200 OK\r\n" + many + b"Content-Length: 0\r\n\r\n").status == 200
    refused("more than 64 header lines", b"HTTP/1.1 200 OK\r\n" + many * 2 + b"\r\n")
    refused("longer than 1024 bytes", b"HTTP/1.1 200 OK\r\nX-A: %s\r\n\r\n" % (b"L" * 1100))
    trailers = b"X-T: t\r\n" * 65
    refused(
        "more than 64 trailer lines",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + trailers + b"\r\n",
    )


def test_a_header_that_is_not_utf8_is_refused_without_showing_it():
    for name in (b"Set-Cookie", b"Location", b"Content-Type"):
        e = refused("is not UTF-8", b"HTTP/1.1 200 OK\r\n%s: s\xff\xfe\r\n\r\n" % name)
        assert "\\xff" not in str(e)
    r = reply(b"HTTP/1.1 200 OK\r\nX-Other: \xff\r\nContent-Length: 0\r\n\r\n")
    assert r.status == 200  # a header we skip may hold anything


def test_interim_replies_are_skipped():
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    not_found = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    conn = connection([interim + OK], later=[[interim + not_found]])
    assert bytes(get(conn).body) == b"ok"
    assert get(conn).status == 404
    refused("more than 4 interim", b"HTTP/1.1 102 Processing\r\n\r\n" * 5 + OK)
    refused("unexpected 101", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n")
    refused("ended after an interim", b"HTTP/1.1 100 Continue\r\n\r\n")


def test_after_an_error_the_connection_is_closed():
    conn = connection([b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"])
    stream = conn.sock
    raises(HTTPError, get, conn)
    assert conn.sock is None and stream.closed


# -- the deadline --------------------------------------------------------------------------------


def sleepy(event, ms):
    sleep_ms(ms)
    return False


def timed_out(conn, budget_ms):
    start = ticks_ms()
    e = raises(OSError, get, conn)
    took = ticks_diff(ticks_ms(), start)
    assert e.args[0] == ETIMEDOUT and "the reply took more than" in str(e), e
    assert budget_ms <= took < budget_ms + 150, took
    assert conn.sock is None


def test_the_deadline_holds_while_the_server_is_silent():
    timed_out(connection([b"HTTP/1.1 2"] + [None] * 1000, 0.2, sleepy), 200)


def test_the_deadline_holds_while_bytes_trickle_in_without_a_wait():
    # Every read has a byte, after 20 ms: the client never waits, the reply never ends.
    timed_out(connection(bytewise(OK.replace(b"2", b"999")), 0.2, ready, delay_ms=20), 200)
