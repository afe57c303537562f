# The rarer framings of an HTTP reply's body, for http.py's _Replies conn (loaded at the first such
# reply, then kept): chunks (production.json on 7.x and 8.x firmware) with their trailers, and
# a body that ends when the server closes (HTTP/1.0 without a length). error: http.py's
# HTTPError, passed in (this module sits beside http.py and does not import it).
from firmware.compat import const

_HEADERS = const(64)  # trailer lines, as http.py's header lines


def chunked(conn, error):
    total = 0
    while True:
        start = conn._line()
        if start < 0:
            raise error("truncated body: the chunked reply ended early")
        size = _chunk_size(conn, start, error)
        if size == 0:
            break
        conn._take(conn._room(total + size, total)[total : total + size])
        total += size
        start = conn._line()
        if start < 0 or conn._e != start:
            raise error("a chunk is not followed by CRLF")
    for _ in range(_HEADERS):  # trailers, up to the empty line
        start = conn._line()
        if start < 0 or conn._e == start:
            return total
    raise error("more than %d trailer lines" % _HEADERS)


def _chunk_size(conn, start, error):
    # 1 to 8 hex digits, then optionally blanks and ";extensions". No sign, prefix or "_".
    buf = conn._buf
    end = conn._e
    size = 0
    i = start
    while i < end and i - start < 9:
        c = buf[i]
        if 48 <= c <= 57:
            c -= 48
        elif 97 <= c <= 102 or 65 <= c <= 70:
            c = (c | 32) - 87
        else:
            break
        size = size * 16 + c
        i += 1
    digits = i - start
    while i < end and (buf[i] == 32 or buf[i] == 9):
        i += 1
    if not 0 < digits <= 8 or i < end and buf[i] != 59:  # ";"
        raise error("bad chunk size %r" % bytes(conn._mv[start : min(end, start + 20)]))
    return size


def to_eof(conn, error):
    # HTTP/1.0-style reply without a length: the body ends when the server closes.
    total = 0
    while True:
        room = conn._room(total + 256, total)[total : total + 256]
        n = min(256, conn._w - conn._r)
        if n:
            room[:n] = conn._mv[conn._r : conn._r + n]
            conn._r += n
        else:
            n = conn._recv(room)
            if not n:
                return total
        total += n
