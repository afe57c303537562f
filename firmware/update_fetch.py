# The release server, over verified TLS (update.url): the bundled root CAs or update.ca_file with
# the server's name checked, and/or update.pin, the SHA-256 of its certificate (alone, it replaces
# the CA check, for a server of your own). One kept-alive connection, one deadline per request.
# A file is streamed: each chunk goes through SHA-256 and onto flash, so no file is ever whole in
# RAM, and a reply whose length is not the manifest's is refused before its first byte is read.
# The server is untrusted: the signature decides what is installed (update_boot.py). Loaded at
# boot for a look or an install, then unloaded.
import hashlib

from firmware.compat import const
from firmware.http import Connection, HTTPError
from firmware.roots import ca_certificates
from firmware.urls import split_url

TIMEOUT_S = 20  # one request: the connection, the handshake, a file of up to 64 KB
_CHUNK = const(512)


class Refused(Exception):
    """The server's reply is not the release: a status, a length or a certificate."""


class Release(Connection):
    def __init__(self, u, board):
        """u: the config's update section."""
        host, port, path = split_url(u["url"])
        self.base = path.rstrip("/")
        self.pin = u["pin"].replace(":", "").lower() if u["pin"] else ""
        cadata = None
        if u["ca_file"] or not self.pin:
            cadata = ca_certificates(u["ca_file"])  # read one at a time, into the one context
        check = self._check_pin if self.pin else None
        super().__init__(host, port, True, cadata, check, board.timeout(TIMEOUT_S))
        self.where = u["url"]

    def _check_pin(self, sha):
        if sha is None or sha.hex() != self.pin:
            raise Refused(
                "the server's certificate is not the pinned one (update.pin): sha256 %s"
                % (sha.hex() if sha else "unknown")
            )

    def get(self, name, cap):
        """The body of base/name (at most cap bytes): a memoryview of the connection's buffer,
        valid until its next request."""
        self.cap = cap
        r = self.request("GET", "%s/%s" % (self.base, name))
        if r.status != 200:
            raise Refused("%s: the server answered %d" % (name, r.status))
        return r.body

    def stream(self, name, size, out, buf, cap=0):
        """base/name, which must be size bytes (None: any length up to cap), written to out
        through SHA-256 in chunks of buf (a bytearray). Returns the digest."""
        self._begin()
        if self.sock is None:
            self._connect()
        try:
            self._write(self.head("GET", "%s/%s" % (self.base, name)))
            start = self._line()
            if start < 0:
                raise HTTPError("the server closed the connection without replying")
            status, close = self._status(start)
            length, chunked, closing, _, _, _ = self._headers()
            if status != 200:
                raise Refused("%s: the server answered %d" % (name, status))
            if size is None and length is not None and length <= cap:
                size = length
            if chunked or length != size:
                raise Refused(
                    "%s: the server sends %s bytes, %s"
                    % (
                        name,
                        "chunked" if chunked else length,
                        "the manifest says %d" % size if size is not None else "over %d" % cap,
                    )
                )
            digest = self._copy(size, out, memoryview(buf))
            if close or closing or self._r != self._w:
                self.close()
            return digest
        except BaseException:
            self.close()
            raise

    def _copy(self, size, out, mv):
        h = hashlib.sha256()
        got = min(size, self._w - self._r)  # what came with the headers first
        if got:
            part = self._mv[self._r : self._r + got]
            h.update(part)
            out.write(part)
            self._r += got
        while got < size:
            n = self._recv(mv[: min(len(mv), size - got)])
            if not n:
                raise HTTPError("truncated: got %d of %d bytes" % (got, size))
            h.update(mv[:n])
            out.write(mv[:n])
            got += n
        return h.digest()


def why(err):
    """A short line for a network or HTTP failure."""
    import errno

    if isinstance(err, OSError) and err.args and type(err.args[0]) is int:
        code = err.args[0]
        if code in (27, 28):  # EFBIG, ENOSPC: a write to flash
            return "flash full"
        names = {
            errno.ECONNREFUSED: "connection refused",
            errno.ETIMEDOUT: "timed out",
            errno.ECONNRESET: "connection reset",
            errno.EHOSTUNREACH: "host unreachable",
        }
        if code in names:
            return names[code]
        if len(err.args) > 1 and type(err.args[1]) is str:
            return err.args[1]
        return "network error %s" % (err.args,)
    return str(err) or type(err).__name__
