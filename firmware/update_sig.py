# The release signature, checked with what stock MicroPython has on an ESP32: three-argument pow()
# on big integers and hashlib.sha256. RSA (2048 or 3072 bits, e = 65537), PKCS#1 v1.5 over
# SHA-256. The whole encoded block is rebuilt from the digest and compared with the signature's
# block byte for byte: nothing is parsed out of the signature, so no padding or ASN.1 leniency
# (the e = 3 forgeries) can pass. Loaded for an update's look or install, then unloaded.
import hashlib

E = 65537
# DER of DigestInfo{ AlgorithmIdentifier{ id-sha256, NULL }, OCTET STRING (32 bytes) } (RFC 8017).
DIGEST_INFO = b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20"
SIZES = (256, 384)  # 2048 and 3072 bits


def key_ok(n, k):
    """n: the modulus, k: its size in bytes. True for a 2048- or 3072-bit odd modulus."""
    return type(n) is int and k in SIZES and n >> (8 * k - 1) == 1 and n & 1 == 1


def block(digest, k):
    """The PKCS#1 v1.5 block a signature of this SHA-256 digest must decrypt to."""
    return b"\x00\x01" + b"\xff" * (k - 3 - len(DIGEST_INFO) - 32) + b"\x00" + DIGEST_INFO + digest


def opened(sig, n, k):
    """The block that sig (k bytes) opens to with the key (n, k), or None for a malformed
    signature or key. Done before the manifest streams in: the big integers' temporaries
    (blocks of about 2k bytes) then find a heap that the manifest's file list has not yet
    fragmented."""
    if not key_ok(n, k) or len(sig) != k:
        return None
    s = int.from_bytes(sig, "big")
    if not 0 < s < n:
        return None
    return pow(s, E, n).to_bytes(k, "big")


def signs(signed, digest, k):
    """True when signed (opened()'s block) is the signature block of digest (SHA-256)."""
    return signed is not None and len(digest) == 32 and signed == block(digest, k)


def verify(sig, digest, n, k):
    """True when sig (k bytes) is the signature of digest (SHA-256, 32 bytes) by the key (n, k)."""
    return len(digest) == 32 and signs(opened(sig, n, k), digest, k)


def key_id(n, k):
    """A short name for a key: the first 8 bytes of the SHA-256 of its modulus, in hex."""
    return hashlib.sha256(n.to_bytes(k, "big")).digest()[:8].hex()
