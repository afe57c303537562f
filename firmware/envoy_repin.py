# A new certificate met at the Envoy's address, judged after its /info (which is all that went
# over it): Envoys make a new self-signed certificate with some firmware pushes (reported on
# D8.3.5528). Loaded by envoy_setup.probe() only then.
from firmware import console
from firmware.envoy_parse import PinMismatch


def judge(e, serial, software, newer, learn, how):
    """After /info over a connection with a new certificate (e._suspect): re-pin when the
    pinned Envoy (the same serial) now runs newer firmware than the pin was taken on (newer),
    which is what an Enphase firmware push that regenerates the certificate looks like.
    Anything else (another serial, the same or older firmware) is refused, and nothing more is
    sent. learn(e, sha, on) keeps a pin; how is the hint to re-pin by hand."""
    seen, (was_serial, was_software) = e._suspect, e._pinned_on
    if serial == was_serial and newer:
        line = "re-pinned: firmware %s -> %s (sha256 %s..., was %s...)" % (
            was_software,
            software,
            seen[:16],
            e._known[0][:16],
        )
        learn(e, seen, (serial, software))
        e._suspect = None
        console.log("envoy: " + line)
        e.notice = line
        return
    e.close()
    e._suspect = None
    why = (
        "it says serial %s, the pin was taken on %s" % (serial, was_serial)
        if serial != was_serial
        else "its firmware %s is not newer than %s, which the pin was taken on"
        % (software, was_software)
    )
    raise PinMismatch(
        "the Envoy's certificate changed (sha256 %s...) and %s: refused, only /info was asked. "
        "If you replaced or reset the Envoy, %s" % (seen[:16], why, how)
    )
