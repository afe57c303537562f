# Runtime differences between MicroPython (ESP32, unix port) and CPython, kept in one place.
import sys
import time
from errno import ETIMEDOUT as _ETIMEDOUT

MICROPYTHON = sys.implementation.name == "micropython"

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


# time.time() counts from 2000-01-01 on the ESP32 and from 1970 elsewhere; JWT claims, NTP and
# the Envoy's timestamps are Unix seconds.
EPOCH_2000 = const(946684800)
EPOCH_OFFSET = EPOCH_2000 if time.gmtime(0)[0] == 2000 else 0


def unix_from_native(t, epoch_offset=EPOCH_OFFSET):
    return int(t) + epoch_offset


if MICROPYTHON:
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    sleep_ms = time.sleep_ms
    view = memoryview  # of bytes, or of a str's UTF-8 bytes without a copy

    def print_exception(e):
        sys.print_exception(e)

else:  # the host's stand-ins live apart, so that a board loads none of their code
    from firmware.compat_cpython import (  # noqa: F401
        print_exception,
        sleep_ms,
        ticks_diff,
        ticks_ms,
        view,
    )


try:
    from gc import mem_alloc
except ImportError:  # CPython

    def mem_alloc():
        return 0


# Certificate failures are ValueError on MicroPython, ssl.SSLCertVerificationError (an OSError
# and a ValueError) on CPython; socket and other TLS errors are OSError on both.
NET_ERRORS = (OSError, ValueError)


if MICROPYTHON:

    def tls_context(cadata=None, pin=False):
        """A client TLS context, plus a list whose item 0 is the SHA-256 of the last peer leaf.

        cadata: DER certificates to verify against (the cloud), or None.
        pin: record the peer certificate's hash without verifying it (the Envoy's is
        self-signed). The context is the first allocation (1.8 KB on an ESP32): it can take the
        room another one has just left in a fragmented heap.
        """
        import tls

        ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        seen = [None]
        if cadata:
            trust(ctx, cadata)
        elif pin:
            # CERT_OPTIONAL verifies nothing on mbedtls, but it is the mode in which
            # verify_callback sees the leaf (depth 0). The memoryview dies with the callback.
            import hashlib

            def remember(cert, depth):
                if depth == 0:
                    seen[0] = hashlib.sha256(cert).digest()
                return 0

            ctx.verify_mode = tls.CERT_OPTIONAL
            ctx.verify_callback = remember
        else:
            ctx.verify_mode = tls.CERT_NONE
        return ctx, seen

    def trust(ctx, cadata):
        """Verify the server (and its name) against these DER certificates, read one at a
        time."""
        import tls

        ctx.verify_mode = tls.CERT_REQUIRED
        for der in cadata:
            ctx.load_verify_locations(der)  # positional only on MicroPython

else:
    from firmware.compat_cpython import tls_context, trust  # noqa: F401


def peer_sha256(sock, seen):
    """SHA-256 of the peer's leaf certificate after the handshake, or None if unknown."""
    if seen[0] is not None:
        return seen[0]
    get = getattr(sock, "getpeercert", None)
    if get is None:
        return None
    der = get(True)
    if not der:
        return None
    import hashlib

    return hashlib.sha256(der).digest()


# Sockets are non-blocking once connected: reads and writes return None when they would block,
# and the caller waits with waiter() for no longer than it has left (see http.py).

if MICROPYTHON:
    import io

    class _Link(io.IOBase):
        # The raw socket under mbedtls. wrap_socket() keeps reading and writing until the handshake
        # is over, so while wait is set each read or write waits for the socket (wait() is
        # bounded by the caller's deadline) and gives -ETIMEDOUT when the time is up: mbedtls
        # passes that on as OSError(ETIMEDOUT) instead of being left mid-call. After the
        # handshake, wait is None and a read or write that would block returns None.
        def __init__(self, sock, wait):
            self.sock = sock
            self.wait = wait

        def readinto(self, buf):
            n = self.sock.readinto(buf)
            while n is None and self.wait:
                if not self.wait(1):  # select.POLLIN
                    return -_ETIMEDOUT
                n = self.sock.readinto(buf)
            return n

        def write(self, buf):
            n = self.sock.write(buf)
            while n is None and self.wait:
                if not self.wait(4):  # select.POLLOUT
                    return -_ETIMEDOUT
                n = self.sock.write(buf)
            return n

        def ioctl(self, request, arg):
            if request == 4:  # MP_STREAM_CLOSE, from the TLS socket's close()
                self.sock.close()
            return 0

    def tls_wrap(ctx, sock, hostname, wait):
        """sock (connected, non-blocking) in TLS, the handshake done. wait(event) waits for sock
        and returns False when the time is up: then OSError(ETIMEDOUT)."""
        link = _Link(sock, wait)
        if hostname:
            tls_sock = ctx.wrap_socket(link, server_hostname=hostname)
        else:
            tls_sock = ctx.wrap_socket(link)
        link.wait = None
        return tls_sock

    def stream(sock):
        return sock  # readinto and write already return None when they would block

    def waiter(sock):
        """ready(event, ms): wait at most ms for sock to be ready for event; False if it is not.
        ipoll and an unchanged mask allocate nothing."""
        import select

        poller = select.poll()
        poller.register(sock, select.POLLIN)
        mask = [select.POLLIN]

        def ready(event, ms):
            if event != mask[0]:
                poller.modify(sock, event)
                mask[0] = event
            for _ in poller.ipoll(ms):
                return True
            return False

        return ready

else:
    from firmware.compat_cpython import stream, tls_wrap, waiter  # noqa: F401


def unload(*names):
    """Forget modules no longer needed (config.py after boot, enlighten.py after a login):
    bytecode loaded from .mpy lives in the heap until its module is dropped."""
    for name in names:
        sys.modules.pop(name, None)
        package, _, attr = name.rpartition(".")
        if package in sys.modules and hasattr(sys.modules[package], attr):
            delattr(sys.modules[package], attr)


def json_loads(data):
    import json

    if not MICROPYTHON and not isinstance(data, (bytes, bytearray, str)):
        data = bytes(data)
    return json.loads(data)
