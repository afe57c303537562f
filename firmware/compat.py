# Runtime differences between MicroPython (ESP32, unix port) and CPython, kept in one place.
import sys
import time

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

    def print_exception(e):
        sys.print_exception(e)

else:

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def sleep_ms(ms):
        time.sleep(ms / 1000)

    def print_exception(e):
        import traceback

        traceback.print_exception(e)


try:
    from gc import mem_alloc
except ImportError:  # CPython

    def mem_alloc():
        return 0


# Certificate failures are ValueError on MicroPython, ssl.SSLCertVerificationError (an OSError
# and a ValueError) on CPython; socket and other TLS errors are OSError on both.
NET_ERRORS = (OSError, ValueError)


def tls_context(cadata=None, pin=False):
    """A client TLS context, plus a list whose item 0 is the SHA-256 of the last peer leaf.

    cadata: DER certificates to verify against (the cloud), or None.
    pin: record the peer certificate's hash without verifying it (the Envoy's is self-signed).
    """
    seen = [None]
    if MICROPYTHON:
        import tls

        ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        if cadata:
            ctx.verify_mode = tls.CERT_REQUIRED
            for der in cadata:
                ctx.load_verify_locations(der)  # positional only on MicroPython
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
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cadata:
        for der in cadata:
            ctx.load_verify_locations(cadata=der)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx, seen


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


class _CPythonStream:
    # MicroPython sockets are streams (readline, readinto, write); CPython's need a file.
    def __init__(self, sock):
        self.sock = sock
        self._file = sock.makefile("rb")

    def readline(self, limit):
        return self._file.readline(limit)

    def readinto(self, buf):
        return self._file.readinto(buf)

    def write(self, data):
        self.sock.sendall(data)
        return len(data)

    def close(self):
        self._file.close()
        self.sock.close()

    def __getattr__(self, name):
        return getattr(self.sock, name)


def stream(sock):
    return sock if MICROPYTHON else _CPythonStream(sock)


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
