# http.py against replies that bend HTTP (issue 20), on the fake stream of test_http_parse
# (both runtimes): a late or unsolicited reply on a kept-alive connection is never taken for
# the next request's, a folded header line is refused, and header and body text is UTF-8 by
# the same rule on the board and the PC.
from support import contains, raises
from test_http_parse import OK, connection, get, refused

from firmware import http
from firmware.http import Connection, Response

LATE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"


def test_a_body_after_a_204_is_never_the_next_reply():
    conn = connection([b"HTTP/1.1 204 No Content\r\n\r\n", LATE])
    assert get(conn).status == 204 and conn.sock is not None
    stream = conn.sock
    raises(OSError, get, conn)  # a new connection for the next request (nothing listens here)
    assert stream.closed and stream.sent == [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]


def test_bytes_that_arrive_between_requests_reopen_the_connection():
    conn = connection([OK, LATE])  # the stale reply comes after ours was read whole
    assert bytes(get(conn).body) == b"ok"
    stream = conn.sock
    assert stream is not None
    raises(OSError, get, conn)
    assert stream.closed and len(stream.sent) == 1


def test_the_end_of_the_stream_while_idle_reopens_the_connection():
    conn = connection([OK])  # then the server hangs up
    assert bytes(get(conn).body) == b"ok"
    stream = conn.sock
    raises(OSError, get, conn)
    assert stream.closed and len(stream.sent) == 1


def test_a_kept_alive_connection_with_nothing_pending_is_kept():
    conn = connection([OK], later=[[OK]])
    get(conn)
    stream = conn.sock
    assert bytes(get(conn).body) == b"ok" and conn.sock is stream and not stream.closed


def test_the_servers_name_is_looked_up_once_and_again_after_a_failure():
    # A name lookup has no deadline of ours (the ESP32's resolver may take seconds): a
    # reconnection to the same server reuses the address; a failed connection looks it up again.
    import socket as sockets

    asked = []

    class Net:
        SOCK_STREAM = sockets.SOCK_STREAM

        def getaddrinfo(self, host, port, *rest):
            asked.append(host)
            return sockets.getaddrinfo("127.0.0.1", port, 0, sockets.SOCK_STREAM)

        def socket(self):
            return sockets.socket()

    server = sockets.socket()
    server.setsockopt(sockets.SOL_SOCKET, sockets.SO_REUSEADDR, 1)
    for port in range(41700, 41800):  # MicroPython's sockets have no getsockname()
        try:
            server.bind(sockets.getaddrinfo("127.0.0.1", port)[0][-1])
            break
        except OSError:
            pass
    server.listen(2)
    real = http.socket
    http.socket = Net()
    try:
        conn = Connection("envoy.lan", port, tls=False, timeout_s=2)
        conn.connect()
        conn.close()
        conn.connect()  # the server hung up, say: a new connection, no new lookup
        conn.close()
        assert asked == ["envoy.lan"]
        server.close()
        raises(OSError, conn.connect)  # refused at the address kept: the server moved, perhaps
        raises(OSError, conn.connect)
        assert asked == ["envoy.lan"] * 2
    finally:
        http.socket = real
        server.close()


def test_folded_header_lines_are_refused():
    chunked = b"2\r\nok\r\n0\r\n\r\n"
    refused("folded", b"HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n chunked\r\n\r\n" + chunked)
    refused("folded", b"HTTP/1.1 200 OK\r\nX-A: 1\r\n\tchunked\r\nContent-Length: 2\r\n\r\nok")
    refused("without a name", b"HTTP/1.1 200 OK\r\nBogus\r\nContent-Length: 2\r\n\r\nok")
    refused("without a name", b"HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 2\r\n\r\nok")


INVALID = (
    b"\xc0\xaf",  # an overlong "/"
    b"\xe0\x80\xaf",
    b"\xf0\x80\x80\xaf",
    b"\xed\xa0\x80",  # an encoded surrogate (U+D800)
    b"\xed\xbf\xbf",
    b"\xf4\x90\x80\x80",  # U+110000
    b"\xf5\x80\x80\x80",
    b"\x80",
    b"\xc3",
)


def test_header_text_that_is_not_utf8_is_refused_alike_on_both_runtimes():
    for bad in INVALID:
        for name in (b"Location", b"Set-Cookie", b"Content-Type"):
            e = refused("is not UTF-8", b"HTTP/1.1 200 OK\r\n%s: /a%sb\r\n\r\n" % (name, bad))
            assert "\\x" not in str(e), e
    r = get(
        connection([b"HTTP/1.1 302 Found\r\nLocation: /\xc3\xa9\r\nContent-Length: 0\r\n\r\n"])
    )
    assert r.location == "/\u00e9"


def test_a_json_body_that_is_not_utf8_is_refused_alike_on_both_runtimes():
    for bad in INVALID:
        body = bytearray(b'{"a": "x%sy"}' % bad)
        e = raises(ValueError, Response(200, body, len(body), (), None, None).json)
        contains(str(e), "UTF-8")
    body = bytearray('{"a": "\u00e9\u20ac\U0001f600"}'.encode())
    assert Response(200, body, len(body), (), None, None).json() == {"a": "\u00e9\u20ac\U0001f600"}
