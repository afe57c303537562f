# CPython's side of compat.py: the host runs the board code with these (the board never
# imports this module).
import time
from errno import ETIMEDOUT as _ETIMEDOUT


def ticks_ms():
    return int(time.monotonic() * 1000)


def ticks_diff(a, b):
    return a - b


def sleep_ms(ms):
    time.sleep(ms / 1000)


def view(data):
    # MicroPython's memoryview takes a str too (its UTF-8 bytes); CPython's does not.
    return memoryview(data.encode() if isinstance(data, str) else data)


def print_exception(e):
    import traceback

    traceback.print_exception(e)


def tls_wrap(ctx, sock, hostname, wait):
    import ssl
    from select import POLLIN, POLLOUT

    tls_sock = ctx.wrap_socket(sock, server_hostname=hostname, do_handshake_on_connect=False)
    try:
        while True:
            try:
                tls_sock.do_handshake()
                return tls_sock
            except ssl.SSLWantReadError:
                event = POLLIN
            except ssl.SSLWantWriteError:
                event = POLLOUT
            if not wait(event):
                raise OSError(_ETIMEDOUT, "timed out")
    except BaseException:
        tls_sock.close()
        raise


class _CPythonStream:
    # MicroPython's non-blocking stream calls (readinto, write: None when they would block).
    def __init__(self, sock):
        import ssl

        self.sock = sock
        self._blocked = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)

    def readinto(self, buf):
        try:
            return self.sock.recv_into(buf)
        except self._blocked:
            return None

    def write(self, data):
        try:
            return self.sock.send(data)
        except self._blocked:
            return None

    def close(self):
        self.sock.close()

    def __getattr__(self, name):
        return getattr(self.sock, name)


def stream(sock):
    return _CPythonStream(sock)


def waiter(sock):
    import select

    poller = select.poll()
    fd = sock.fileno()  # the TLS socket that replaces sock keeps its descriptor
    poller.register(fd, select.POLLIN)

    def ready(event, ms):
        poller.modify(fd, event)
        return bool(poller.poll(ms))

    return ready


def tls_context(cadata=None, pin=False):
    """compat.tls_context on CPython: the ssl module; the peer's hash comes from getpeercert."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cadata:
        trust(ctx, cadata)
    return ctx, [None]


def trust(ctx, cadata):
    import ssl

    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = True
    for der in cadata:
        ctx.load_verify_locations(cadata=der)
