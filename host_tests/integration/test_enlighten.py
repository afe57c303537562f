# firmware/enlighten.py against the simulated Enlighten and Entrez (real TLS, a test CA).
import pytest

from firmware import enlighten, enlighten_http, jwt
from firmware.enlighten import CloudError


def cloud_cfg(sim, **kw):
    cfg = dict(sim.config()["enlighten"])
    cfg.update(kw)
    return cfg


def get(sim, **kw):
    return enlighten.get_token(cloud_cfg(sim, **kw), sim.envoy.serial)[0]


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
    assert enlighten_http.form([("user[email]", "a+b@x.y"), ("user[password]", "p&q =%")]) == (
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
    monkeypatch.setattr(enlighten_http, "TIMEOUT_S", 0.5)
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
    from firmware.roots import ca_certificates

    cas = list(ca_certificates(""))
    assert len(cas) >= 5 and all(c[:1] == b"\x30" for c in cas)  # DER: an ASN.1 SEQUENCE


def test_every_cloud_request_sends_a_browser_like_user_agent(sim):
    get(sim)
    assert len(sim.cloud.agents) == 2
    assert all(a.startswith("Mozilla/5.0") for a in sim.cloud.agents)


def test_the_cloud_refuses_a_request_without_a_user_agent(sim, monkeypatch):
    # As Enphase does since 2025: the simulator must refuse it, or the test above proves nothing.
    monkeypatch.setattr(enlighten_http, "USER_AGENT", "")
    with pytest.raises(CloudError) as err:
        get(sim)
    assert "403" in str(err.value) and "Forbidden" in str(err.value)


def test_a_failure_says_what_the_cloud_answered_without_secrets(sim):
    sim.cloud.behaviour = "5xx"
    with pytest.raises(CloudError) as err:
        get(sim)
    assert 'Enphase answered 503 "<html>Service Unavailable</html>"' in str(err.value)
    sim.cloud.behaviour = "token-garbage"
    with pytest.raises(CloudError) as err:
        get(sim)
    assert 'answered 200 "Sorry, something went wrong"' in str(err.value)


def test_the_excerpt_masks_secrets_and_anything_shaped_like_a_token():
    body = (
        b'{"session_id":"0123456789abcdef0123","user":"me@example.com","pw":"hunter2",'
        b'"note":"bad\x1b[31m\nline"}'
    )
    text = enlighten_http.excerpt(body, ("hunter2", "me@example.com"))
    assert "0123456789abcdef" not in text and "hunter2" not in text and "me@example" not in text
    assert "\x1b" not in text and "\n" not in text and len(text) <= enlighten_http.EXCERPT + 3
    assert "session_id" in text and "[...]" in text


def test_a_gone_tokens_endpoint_falls_back_to_the_entrez_web_login(sim):
    sim.cloud.behaviour = "tokens-gone"
    token, via = enlighten.get_token(cloud_cfg(sim), sim.envoy.serial)
    assert via == enlighten.WEB and token == sim.cloud.issued[-1]
    assert jwt.decode(token)["aud"] == sim.envoy.serial
    assert sim.cloud.logins == 2 and sim.cloud.web_logins == 1
    assert sim.cloud.problems == []  # the web form's fields and content type


def test_the_web_path_first_when_it_worked_last(sim):
    token, via = enlighten.get_token(cloud_cfg(sim), sim.envoy.serial, first=enlighten.WEB)
    assert via == enlighten.WEB and sim.cloud.logins == 1 and sim.cloud.web_logins == 1


def test_no_fallback_when_the_account_guard_says_no(sim):
    sim.cloud.behaviour = "tokens-gone"
    with pytest.raises(CloudError) as err:
        enlighten.get_token(cloud_cfg(sim), sim.envoy.serial, another=lambda: False)
    assert err.value.kind == "gone" and "400" in str(err.value)
    assert sim.cloud.web_logins == 0


def test_a_gone_web_login_falls_back_to_the_owner_path(sim):
    sim.cloud.behaviour = "web-gone"
    token, via = enlighten.get_token(cloud_cfg(sim), sim.envoy.serial, first=enlighten.WEB)
    assert via == enlighten.OWNER and sim.cloud.logins == 2


def test_both_paths_gone_is_one_clear_error(sim):
    sim.cloud.behaviour = "all-gone"
    with pytest.raises(CloudError) as err:
        enlighten.get_token(cloud_cfg(sim), sim.envoy.serial)
    assert err.value.kind == "gone" and "Entrez web login: the endpoint seems gone (404)" in str(
        err.value
    )
    assert sim.cloud.logins == 2  # one try each way, no more


def test_a_wrong_password_on_the_web_login_is_a_credentials_error(sim):
    with pytest.raises(CloudError) as err:
        enlighten.get_token(
            cloud_cfg(sim, password="wrong"), sim.envoy.serial, first=enlighten.WEB
        )
    assert err.value.kind == "credentials" and "wrong" not in str(err.value).replace(
        "wrong e-mail", ""
    )
