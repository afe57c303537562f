# The release signature check (firmware/update_sig.py) on both runtimes, against vectors made by
# tools/release.py with real keys (thrown away): the good signatures pass, and every wrong block
# signed with the right key, every damaged or foreign signature, fails.
import hashlib

import update_vectors as v

from firmware import update_sig

DIGEST = hashlib.sha256(v.MESSAGE).digest()


def ok(sig_hex, n=v.N3072, k=384, digest=DIGEST):
    return update_sig.verify(bytes.fromhex(sig_hex), digest, n, k)


def test_good_signatures_of_both_sizes_verify():
    assert ok(v.SIG3072)
    assert ok(v.SIG2048, v.N2048, 256)
    assert ok(v.RAW_GOOD)  # the expected block itself, signed by raw RSA: the same thing


def test_every_wrong_block_signed_with_the_right_key_is_refused():
    # No parsing: garbage after the digest (an e = 3 forgery's shape), a padding byte that is
    # not FF, block type 2, no 00 separator, SHA-1's DigestInfo, DigestInfo without its NULL,
    # the digest first, another message's digest.
    assert len(v.FORGED) == 8
    for name, sig in v.FORGED.items():
        assert not ok(sig), name


def test_a_flipped_bit_anywhere_fails():
    sig = bytearray(bytes.fromhex(v.SIG3072))
    for i in range(0, 384 * 8, 97):
        sig[i // 8] ^= 1 << (i % 8)
        assert not update_sig.verify(bytes(sig), DIGEST, v.N3072, 384), i
        sig[i // 8] ^= 1 << (i % 8)
    assert update_sig.verify(bytes(sig), DIGEST, v.N3072, 384)


def test_a_flipped_bit_in_the_message_fails():
    msg = bytearray(v.MESSAGE)
    msg[3] ^= 4
    assert not ok(v.SIG3072, digest=hashlib.sha256(bytes(msg)).digest())


def test_wrong_lengths_fail():
    sig = bytes.fromhex(v.SIG3072)
    for bad in (sig[1:], sig + b"\x00", b"\x00" + sig, sig[:256], b""):
        assert not update_sig.verify(bad, DIGEST, v.N3072, 384), len(bad)
    assert not update_sig.verify(sig, DIGEST[:31], v.N3072, 384)


def test_another_key_fails():
    assert not ok(v.SIG_OTHER)  # signed by another 3072-bit key
    assert ok(v.SIG_OTHER, v.N_OTHER)
    assert not ok(v.SIG3072, v.N_OTHER)
    assert not ok(v.SIG2048, v.N3072, 384)


def test_out_of_range_signatures_and_bad_keys_fail():
    n = v.N3072
    for s in (0, n, n + 1, (1 << 3072) - 1):
        assert not update_sig.verify(s.to_bytes(384, "big"), DIGEST, n, 384), s
    sig = bytes.fromhex(v.SIG3072)
    assert not update_sig.verify(sig, DIGEST, n, 256)  # the wrong size for the modulus
    assert not update_sig.verify(sig, DIGEST, n - 1, 384)  # even: not an RSA modulus
    assert not update_sig.verify(sig, DIGEST, None, 0)  # no key at all
    assert not update_sig.key_ok(n >> 8, 384)


def test_key_id_is_short_and_names_the_key():
    a, b = update_sig.key_id(v.N3072, 384), update_sig.key_id(v.N_OTHER, 384)
    assert len(a) == 16 and a != b


def test_the_signature_opens_before_the_manifest_is_read_and_matches_only_its_digest():
    # update_boot opens the signature before the manifest streams in (the big integers'
    # temporaries in a heap the file list has not fragmented), then compares the blocks.
    signed = update_sig.opened(bytes.fromhex(v.SIG3072), v.N3072, 384)
    assert len(signed) == 384 and update_sig.signs(signed, DIGEST, 384)
    assert not update_sig.signs(signed, hashlib.sha256(b"another").digest(), 384)
    assert not update_sig.signs(signed, DIGEST[:31], 384)
    assert not update_sig.signs(None, DIGEST, 384)
    sig = bytes.fromhex(v.SIG3072)
    for bad in (sig[1:], sig + b"\x00", b"\x00" * 384, bytes.fromhex(v.SIG2048)):
        assert update_sig.opened(bad, v.N3072, 384) is None, len(bad)
    assert update_sig.opened(sig, v.N3072 + 1, 384) is None  # an even modulus is no key
