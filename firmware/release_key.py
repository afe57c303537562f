# The public key that signs this firmware's releases (RSA, e = 65537): updates over the air are
# installed only when their manifest is signed by it. N: the modulus, BYTES: its size (256 or
# 384). A release carries this file too, so a release can hand over to a new key.
# None: this build trusts no key, and every update is refused with a line saying so. The
# repository ships none (no maintainers' key exists yet); `python -m tools.release --new-key`
# writes your own here, and a deploy by USB makes the board trust it (README, Updates).
N = None
BYTES = 0
