# An Envoy firmware update that regenerates the certificate (reported on D8.3.5528): the board
# re-pins by itself when /info, asked over the new TLS connection before anything secret is sent,
# shows the pinned Envoy's serial and newer firmware than the pin was taken on. Anything else is
# refused as before. The firmware's client under CPython against the simulated Envoy (real TLS).
import json

import pytest
from conftest import token_for

from firmware.envoy import Envoy
from firmware.envoy_parse import PinMismatch
from tools.sim.certs import sha256_of_pem

NEW = "D8.3.5528"  # newer than the demo capture's D8.2.4345


def connect(e, token):
    # What link.Link does: a probe if needed, check_jwt, the meters, then a reading.
    if not e.ready():
        if e.version is None:
            e.probe()
        e.login(token)
        e.discover()
    return e.read()[0]


def poll(e, token):
    """One pass as the link does it: a PinMismatch resets (a probe comes next)."""
    try:
        return connect(e, token)
    except PinMismatch as err:
        e.reset()
        return err


@pytest.fixture
def pinned(sim, tmp_path):
    token = token_for(sim.envoy, sim)
    path = str(tmp_path / "envoy_pin.json")
    e = Envoy("127.0.0.1", sim.envoy.port, "tofu", timeout_s=3, pin_file=path)
    assert connect(e, token) == 199
    return e, token, path


def secret_requests(envoy, since):
    return [r for r in envoy.requests[since:] if r[2] or r[3]]


def test_the_pin_records_the_serial_and_firmware_it_was_taken_on(sim, pinned):
    e, token, path = pinned
    record = json.load(open(path))
    assert record == {
        "https": True,
        "sha256": sha256_of_pem(sim.pki["envoy_pem"]),
        "serial": sim.envoy.serial,
        "software": sim.envoy.software,
    }


def test_a_firmware_update_with_a_new_certificate_re_pins_by_itself(sim, pinned):
    e, token, path = pinned
    sim.envoy.update_firmware(NEW)
    before = len(sim.envoy.requests)
    err = poll(e, token)
    assert isinstance(err, PinMismatch) and err.recheck  # the reconnection: judged next
    assert sim.envoy.requests[before:] == []  # not even /info went over the new certificate
    assert poll(e, token) == 199  # the probe: /info, then re-pinned, then the token
    asked = sim.envoy.requests[before:]
    assert asked[0] == ("GET", "/info", False, False)
    assert e.notice == "re-pinned: firmware %s -> %s (sha256 %s..., was %s...)" % (
        sim.envoy.software,
        NEW,
        sha256_of_pem(sim.pki["envoy2_pem"])[:16],
        sha256_of_pem(sim.pki["envoy_pem"])[:16],
    )
    record = json.load(open(path))
    assert record["sha256"] == sha256_of_pem(sim.pki["envoy2_pem"]) and record["software"] == NEW


@pytest.mark.parametrize(
    "software, serial, words",
    [
        (None, None, "is not newer than"),  # the same firmware: not an update
        ("D8.1.41", None, "is not newer than"),  # older firmware
        (NEW, "999999999999", "it says serial 999999999999"),  # another Envoy
    ],
)
def test_a_new_certificate_without_a_firmware_update_is_refused(
    sim, pinned, software, serial, words
):
    e, token, path = pinned
    sim.envoy.info_serial = serial
    sim.envoy.update_firmware(software or sim.envoy.software)
    before = len(sim.envoy.requests)
    for _ in range(3):
        err = poll(e, token)
        assert isinstance(err, PinMismatch)
    assert words in str(err) and "refused, only /info was asked" in str(err)
    assert not err.recheck  # the probe judged it: the link waits before the next try
    assert secret_requests(sim.envoy, before) == []
    assert {r[1] for r in sim.envoy.requests[before:]} == {"/info"}
    assert json.load(open(path))["sha256"] == sha256_of_pem(sim.pki["envoy_pem"])
    assert e.notice is None


def test_a_pin_from_1_1_without_firmware_is_refused_then_completed_by_a_good_probe(sim, tmp_path):
    token = token_for(sim.envoy, sim)
    path = str(tmp_path / "envoy_pin.json")
    sha = sha256_of_pem(sim.pki["envoy_pem"])
    json.dump({"sha256": sha, "https": True}, open(path, "w"))  # as 1.1 wrote it
    e = Envoy("127.0.0.1", sim.envoy.port, "tofu", timeout_s=3, pin_file=path)
    assert connect(e, token) == 199
    assert json.load(open(path))["software"] == sim.envoy.software  # completed on the way
    old = Envoy("127.0.0.1", sim.envoy.port, "tofu", timeout_s=3, pin_file=path)
    json.dump({"sha256": sha, "https": True}, open(path, "w"))
    sim.envoy.update_firmware(NEW)
    with pytest.raises(PinMismatch) as err:
        connect(old, token)  # nothing to judge the new certificate by: refused as in 1.1
    assert "diag.repin()" in str(err.value)


def test_a_hex_pin_is_never_replaced_by_itself(sim, tmp_path):
    token = token_for(sim.envoy, sim)
    sha = sha256_of_pem(sim.pki["envoy_pem"])
    e = Envoy("127.0.0.1", sim.envoy.port, sha, timeout_s=3, pin_file=str(tmp_path / "p.json"))
    assert connect(e, token) == 199
    sim.envoy.update_firmware(NEW)
    before = len(sim.envoy.requests)
    for _ in range(2):
        err = poll(e, token)
        assert isinstance(err, PinMismatch) and not err.recheck
    assert "update envoy.pin" in str(err)
    assert sim.envoy.requests[before:] == []
