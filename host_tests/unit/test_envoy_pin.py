# envoy_setup.pin_record: what envoy_pin.json may hold (both runtimes). The file is untrusted:
# anything else is "not a pin record", never an exception.
from firmware.envoy_setup import pin_record

SHA = "3f6a" * 16


def test_pin_records():
    assert pin_record({"sha256": SHA}) == (SHA, True)  # written before HTTPS was recorded
    assert pin_record({"sha256": SHA, "https": True}) == (SHA, True)
    assert pin_record({"https": True}) == (None, True)  # envoy.pin off: HTTPS worked
    assert pin_record({}) == (None, False)


def test_anything_else_is_not_a_pin_record():
    for junk in (
        None,
        [],
        "x",
        5,
        [SHA],
        {"sha256": SHA.upper()},
        {"sha256": SHA[:-1]},
        {"sha256": SHA[:-1] + "g"},
        {"sha256": 5},
        {"sha256": [SHA]},
        {"https": 1},
        {"https": "yes"},
        {"sha256": SHA, "https": None},
    ):
        assert pin_record(junk) is None, junk
