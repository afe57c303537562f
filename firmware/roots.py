# The root certificates to trust for the cloud and for updates (DER), read one at a time: the
# cloud's and the update server's TLS contexts take them in turn. Loaded for a login or a look.
import os


def ca_certificates(ca_file=""):
    """Only ca_file when given; else those in firmware/certs beside this module, or in certs/ at
    the root of the flash (a frozen firmware keeps no folder named firmware)."""
    if ca_file:
        with open(ca_file, "rb") as f:
            yield f.read()
        return
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    for folder in (here + "/certs", "certs"):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            if name.endswith(".der"):
                with open(folder + "/" + name, "rb") as f:
                    yield f.read()
        return
