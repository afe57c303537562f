# The root certificates to trust for the cloud and for updates (DER), read one at a time: the
# cloud's and the update server's TLS contexts take them in turn. Loaded for a login or a look.
import os

from firmware.compat import const
from firmware.store import read_bytes

_DER_MAX = const(4096)  # one certificate: a root is 1-2 KB; the flash is untrusted input too


def ca_certificates(ca_file=""):
    """Only ca_file when given; else those in firmware/certs beside this module, or in certs/ at
    the root of the flash (a frozen firmware keeps no folder named firmware). ValueError (what
    the TLS code raises for a certificate) for a file missing or over 4 KB: never read whole."""
    if ca_file:
        yield _der(ca_file)
        return
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    for folder in (here + "/certs", "certs"):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            if name.endswith(".der"):
                yield _der(folder + "/" + name)
        return


def _der(path):
    der, why = read_bytes(path, _DER_MAX)
    if der is None:
        raise ValueError("the certificate %s: %s" % (path, why or "not found"))
    return der
