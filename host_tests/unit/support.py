# Helpers for the unit tests, which run under pytest (CPython) and under the `micropython` binary
# (host_tests/upy_runner.py). Plain functions and asserts only: MicroPython has no pytest.
import os

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
ROOT = _here + "/../.."
FIXTURES = ROOT + "/tools/fixtures/envoy"


def raises(exc, fn, *args, **kwargs):
    """Call fn and return the exception it raised; fail if it raised nothing or something else."""
    try:
        fn(*args, **kwargs)
    except exc as e:
        return e
    raise AssertionError("%s did not raise %s" % (getattr(fn, "__name__", fn), exc.__name__))


def fixture(folder, name):
    """The bytes of one captured Envoy response, or None when the folder has no such file."""
    try:
        with open("%s/%s/%s" % (FIXTURES, folder, name), "rb") as f:
            return f.read()
    except OSError:
        return None


def fixture_folders():
    return sorted(d for d in os.listdir(FIXTURES) if d[0].isdigit())


_count = [0]


def tmpdir():
    """A new empty folder under /tmp."""
    import binascii

    _count[0] += 1
    path = "/tmp/ed-%s-%d" % (str(binascii.hexlify(os.urandom(4)), "ascii"), _count[0])
    os.mkdir(path)
    return path


def contains(haystack, needle):
    assert needle in haystack, "%r not found in %r" % (needle, haystack)


def ha_configs(prefix, base, uid, offers="", burst=False):
    """(topic, payload) of every entity in the board's table (firmware/ha_entities.txt), as
    mqtt_ha sends them a row at a time; offers: the letters of what the board offers
    (mqtt_ha.offered(cfg, reading))."""
    from firmware import mqtt_ha

    dev = mqtt_ha.device(uid, burst)
    out = []
    with mqtt_ha.table() as f:
        while True:
            e = mqtt_ha.row(f)
            if e is None:
                return out
            out.append(mqtt_ha.config(e, prefix, base, uid, offers, dev))


def joined(payload):
    """A discovery payload as the broker gets it: mqtt.publish writes a list's parts one after
    another."""
    from firmware.compat import view

    return payload if isinstance(payload, bytes) else b"".join(bytes(view(p)) for p in payload)
