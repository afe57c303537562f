# Fuzzing firmware/http.py's reply reading (hypothesis, fixed seed): any bytes from a server, cut
# into any pieces, give a Response within the caps or an HTTPError/OSError, never anything else;
# and a well-formed reply, however it is cut, gives exactly its status, body and cookies.
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_http_parse import Stream, ready

from firmware import http
from firmware.http import CAP, Connection, HTTPError

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def read_replies(replies, cuts, requests=2):
    """Each request's reply from a fake stream; each reply cut at the given points (blocked
    reads between the pieces). Returns the Responses (as tuples) up to the first error."""
    streams = []
    for data in replies:
        pieces, last = [], 0
        for c in sorted(set(x % (len(data) + 1) for x in cuts)):
            pieces += [data[last:c], None]
            last = c
        pieces.append(data[last:])
        streams.append([p for p in pieces if p != b""])  # b"": the end of the stream
    conn = Connection("127.0.0.1", 9, tls=False, timeout_s=5)
    conn._attach(Stream(streams), ready)
    out = []
    for _ in range(requests):
        if conn.sock is None:
            break
        try:
            r = conn.send(b"GET / HTTP/1.1\r\n\r\n", b"")
        except (HTTPError, OSError):
            break
        within_caps(r, conn)
        out.append((r.status, bytes(r.body), list(r.cookies), r.location))
    return out


def within_caps(r, conn):
    assert 200 <= r.status <= 999
    assert 0 <= r.length <= CAP and len(r.body) == r.length
    assert len(r.cookies) <= http._COOKIES
    assert sum(len(c.encode()) for c in r.cookies) <= http._COOKIE_BYTES
    assert len(conn._buf) <= http._LINE and (conn._body is None or len(conn._body) <= CAP)


cuts = st.lists(st.integers(min_value=0, max_value=20000), max_size=12)


@settings(FUZZ, max_examples=1000)
@given(st.lists(st.binary(max_size=3000), min_size=1, max_size=2), cuts)
def test_any_bytes(replies, cuts):
    read_replies(replies, cuts)


# -- replies that look like HTTP, with mistakes ------------------------------------------------

NAMES = [
    b"Content-Length",
    b"content-length",
    b"Transfer-Encoding",
    b"Connection",
    b"Set-Cookie",
    b"Location",
    b"Content-Type",
    b"X-Other",
    b"Server",
    b"",
    b" Content-Length",
]
token = st.binary(max_size=40) | st.sampled_from(
    [
        b"0",
        b"2",
        b"5",
        b"-3",
        b"0x2",
        b"1_0",
        b" +5",
        b"chunked",
        b"close",
        b"a=b",
        b"\xff",
        b"99999999999",
    ]
)
status_line = st.sampled_from(
    [
        b"HTTP/1.1 200 OK",
        b"HTTP/1.0 200 OK",
        b"HTTP/1.1 100 Continue",
        b"HTTP/1.1 103 Early",
        b"HTTP/1.1 101 Switching",
        b"HTTP/1.1 204 No",
        b"HTTP/1.1 304 Not",
        b"HTTP/1.1 404 x",
        b"HTTP/1.1 2000 OK",
        b"HTTP/2 200",
        b"",
    ]
) | st.binary(max_size=30)
header = st.tuples(st.sampled_from(NAMES) | st.binary(max_size=20), token).map(
    lambda nv: nv[0] + b": " + nv[1]
)
chunk = st.tuples(token, st.binary(max_size=40)).map(lambda sd: sd[0] + b"\r\n" + sd[1] + b"\r\n")
head = st.tuples(
    status_line, st.lists(header, max_size=12), st.sampled_from([b"\r\n", b"\n"])
).map(lambda t: t[0] + t[2] + b"".join(h + t[2] for h in t[1]) + t[2])
reply = st.tuples(
    st.lists(head, min_size=1, max_size=3), st.lists(chunk, max_size=4), st.binary(max_size=60)
).map(lambda t: b"".join(t[0]) + b"".join(t[1]) + t[2])


@settings(FUZZ, max_examples=300)
@given(st.lists(reply, min_size=1, max_size=2), cuts)
def test_replies_that_look_like_http(replies, cuts):
    read_replies(replies, cuts)


# -- well-formed replies parse exactly ---------------------------------------------------------


@st.composite
def good_reply(draw):
    body = draw(st.binary(max_size=2000))
    cookies = draw(st.lists(st.from_regex(rb"\A[a-z]{1,8}=[A-Za-z0-9]{0,30}\Z"), max_size=4))
    framing = draw(st.sampled_from(["length", "chunked"]))
    status = draw(st.integers(min_value=200, max_value=599).filter(lambda s: s not in (204, 304)))
    interim = b"".join(
        b"HTTP/1.1 %d x\r\nLink: </a>\r\n\r\n" % draw(st.sampled_from([100, 102, 103]))
        for _ in range(draw(st.integers(min_value=0, max_value=4)))
    )
    lines = [b"Server: fuzz", b"Date: today"] + [b"Set-Cookie: %s; Path=/" % c for c in cookies]
    if framing == "length":
        lines.append(b"Content-Length: %d" % len(body))
        payload = body
    else:
        lines.append(b"Transfer-Encoding: chunked")
        sizes = draw(st.lists(st.integers(min_value=1, max_value=700), max_size=8))
        payload, i = b"", 0
        for n in sizes + [len(body)]:
            piece = body[i : i + n]
            i += len(piece)
            if piece:
                payload += b"%x\r\n%s\r\n" % (len(piece), piece)
        payload += b"0\r\nX-Trailer: t\r\n\r\n"
    data = interim + b"HTTP/1.1 %d Fine\r\n" % status + b"".join(x + b"\r\n" for x in lines)
    want = (status, body, [c.decode() for c in cookies], None)
    return data + b"\r\n" + payload, want


@settings(FUZZ, max_examples=250)
@given(st.lists(good_reply(), min_size=1, max_size=3), cuts)
def test_well_formed_replies_parse_exactly_however_they_are_cut(replies, cuts):
    got = read_replies([data for data, _ in replies], cuts, requests=len(replies))
    assert got == [want for _, want in replies]
