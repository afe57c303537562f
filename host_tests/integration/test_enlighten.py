# firmware/enlighten.py against the simulated Enlighten and Entrez (real TLS, a test CA).
import pytest

from firmware import enlighten, jwt
from firmware.enlighten import CloudError


def cloud_cfg(sim, **kw):
    cfg = dict(sim.config()["enlighten"])
    cfg.update(kw)
    return cfg


def get(sim, **kw):
    return enlighten.get_token(cloud_cfg(sim, **kw), sim.envoy.serial)


def test_login_and_token_with_the_exact_fields(sim):
    token = get(sim)
    claims = jwt.decode(token)
    assert claims["aud"] == sim.envoy.serial and claims["enphaseUser"] == "owner"
    assert sim.cloud.logins == 1 and sim.cloud.token_requests == 1
    assert sim.cloud.problems == []  # form fields, JSON keys, content types, nothing in the URL


def test_password_with_form_special_characters_is_encoded(sim):
    assert "&" in sim.cloud.password and " " in sim.cloud.password
    get(sim)
    assert sim.cloud.problems == []
    assert enlighten.form([("user[email]", "a+b@x.y"), ("user[password]", "p&q =%")]) == (
        "user%5Bemail%5D=a%2Bb%40x.y&user%5Bpassword%5D=p%26q%20%3D%25"
    )


@pytest.mark.parametrize("shape", ["raw", "json", "html"])
def test_every_shape_of_token_reply(sim, shape):
    sim.cloud.token_format = shape
    assert get(sim) == sim.cloud.issued[-1]


@pytest.mark.parametrize(
    "behaviour, kind, words",
    [
        ("bad-credentials", "credentials", "wrong e-mail or password (401)"),
        ("mfa", "mfa", "multi-factor"),
        ("locked", "locked", "web page"),
        ("blocked", "locked", "blocked"),
        ("5xx", "server", "503"),
        ("token-5xx", "server", "502"),
        ("token-garbage", "reply", "not a JWT"),
    ],
)
def test_each_cloud_failure_has_its_kind_and_message(sim, behaviour, kind, words):
    sim.cloud.behaviour = behaviour
    with pytest.raises(CloudError) as err:
        get(sim)
    assert err.value.kind == kind and words in str(err.value)


def test_slow_cloud_times_out(sim, monkeypatch):
    monkeypatch.setattr(enlighten, "TIMEOUT_S", 0.5)
    sim.cloud.behaviour = "slow"
    sim.cloud.slow_s = 2
    with pytest.raises(CloudError) as err:
        get(sim)
    assert err.value.kind == "network"


def test_cloud_certificate_is_verified(sim):
    # The bundled public roots do not trust the test CA: the login must not happen.
    with pytest.raises(CloudError) as err:
        get(sim, ca_file="")
    assert err.value.kind == "certificate"
    assert sim.cloud.logins == 0


def test_secrets_never_appear_in_error_messages(sim):
    for behaviour in ("bad-credentials", "mfa", "locked", "5xx", "token-garbage"):
        sim.cloud.behaviour = behaviour
        with pytest.raises(CloudError) as err:
            get(sim)
        text = str(err.value)
        assert sim.cloud.password not in text and sim.cloud.email not in text
        for session in sim.cloud.sessions:
            assert session not in text


def test_bundled_roots_load():
    from firmware.account import ca_certificates

    cas = list(ca_certificates(""))
    assert len(cas) >= 5 and all(c[:1] == b"\x30" for c in cas)  # DER: an ASN.1 SEQUENCE
