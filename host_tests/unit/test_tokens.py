# tokens.py: when to renew, and protecting the Enlighten account (both runtimes).
import json
import os

from jwts import make
from support import contains, tmpdir

from firmware import store
from firmware.compat import EPOCH_2000, unix_from_native
from firmware.tokens import CLOUD_FILE, TOKEN_FILE, TokenKeeper

NOW = 1795000000  # 2026-11-18
DAY = 86400


def keeper(token="", email="me@example.com", password="pw"):
    os.chdir(tmpdir())
    return TokenKeeper({"token": token}, {"email": email, "password": password})


class Cloud:
    """A fake fetch(serial): hands out tokens, or fails as told."""

    def __init__(self, fail=None, exp=NOW + 365 * DAY):
        self.calls = 0
        self.fail = fail
        self.exp = exp

    def __call__(self, serial):
        self.calls += 1
        if self.fail:
            raise Exception(self.fail)
        return make(aud=serial, exp=self.exp, iat=self.exp - 365 * DAY)


def test_pasted_token_is_used_as_is_and_the_cloud_is_never_asked():
    t = make(exp=NOW + 200 * DAY)
    k = keeper(token=t)
    contains(k.load(), "pasted owner token")
    assert k.token == t and k.renewal_due(NOW) is None
    assert k.usable(NOW)
    assert k.renewal_due(NOW + 199 * DAY) is None  # even close to expiry: never the cloud


def test_expired_pasted_token_is_reported():
    k = keeper(token=make(exp=NOW - 1, iat=NOW - 365 * DAY))
    k.load()
    assert not k.usable(NOW)
    contains(k.problem, "pasted token has expired")


def test_owner_token_renews_with_thirty_days_left():
    k = keeper()
    assert k.load() == "token: none yet"
    assert k.renewal_due(NOW) == "no token yet"
    store.save(TOKEN_FILE, {"token": make(exp=NOW + 31 * DAY)})
    contains(k.load(), "stored owner token")
    assert k.renewal_due(NOW) is None
    contains(k.renewal_due(NOW + 2 * DAY), "29.0 days left")
    assert k.renewal_due(NOW + 40 * DAY) == "expired"


def test_installer_token_renews_at_half_life():
    k = keeper()
    store.save(TOKEN_FILE, {"token": make(exp=NOW + 12 * 3600, iat=NOW, role="installer")})
    k.load()
    assert k.renewal_due(NOW + 5 * 3600) is None
    assert k.renewal_due(NOW + 6 * 3600 + 1) == "installer token past half-life"


def test_a_rejected_token_is_renewed_at_once():
    k = keeper()
    store.save(TOKEN_FILE, {"token": make(exp=NOW + 300 * DAY)})
    k.load()
    k.reject()
    assert k.renewal_due(NOW) == "the Envoy rejected the token"


def test_unreadable_stored_token_means_a_new_one():
    k = keeper()
    store.save(TOKEN_FILE, {"token": "garbage"})
    contains(k.load(), "unusable")
    assert k.token is None and k.renewal_due(NOW) == "no token yet"


def test_renewal_stores_the_token_only_when_it_changes():
    k = keeper()
    cloud = Cloud()
    contains(k.renew(NOW, "122446001637", cloud), "new owner token, 365 days left")
    with open(TOKEN_FILE) as f:
        assert json.load(f)["token"] == k.token
    assert k.unproven and k.login_wait(NOW) == 0


def test_failures_back_off_exponentially_from_five_minutes():
    k = keeper()
    cloud = Cloud(fail="Enlighten login: wrong e-mail or password (401)")
    waits = []
    t = NOW
    for _ in range(4):
        line = k.renew(t, "1", cloud)
        contains(line, "wrong e-mail")
        waits.append(k.login_wait(t))
        assert k.renew(t + 1, "1", cloud) is None  # refused without calling the cloud
        t += waits[-1]
    assert waits == [300, 600, 1200, 2400], waits
    assert cloud.calls == 4
    contains(k.problem, "wrong e-mail")


def test_at_most_six_logins_a_day_even_when_they_succeed():
    k = keeper()
    cloud = Cloud()
    for i in range(6):
        assert k.renew(NOW + i, "1", cloud)
    assert k.renew(NOW + 10, "1", cloud) is None and cloud.calls == 6
    assert k.login_wait(NOW + 10) == DAY - 10
    assert k.renew(NOW + DAY, "1", cloud) is not None  # the first one has aged out


def test_the_login_record_survives_a_reboot():
    k = keeper()
    k.renew(NOW, "1", Cloud(fail="Enlighten login: Enphase's server failed (503)"))
    again = TokenKeeper({"token": ""}, {"email": "me@example.com", "password": "pw"})
    assert again.login_wait(NOW + 10) == 290
    assert again.failures() == 1


def test_new_credentials_reset_the_back_off():
    k = keeper()
    k.renew(NOW, "1", Cloud(fail="Enlighten login: wrong e-mail or password (401)"))
    fixed = TokenKeeper({"token": ""}, {"email": "me@example.com", "password": "right"})
    assert fixed.login_wait(NOW + 10) == 0


def test_a_cloud_reply_that_is_not_a_usable_token_counts_as_a_failure():
    k = keeper()
    line = k.renew(NOW, "1", lambda serial: "not-a-jwt")
    contains(line, "unusable token")
    assert k.token is None and k.login_wait(NOW) == 300


def test_a_fresh_token_the_envoy_refuses_counts_as_a_failed_login():
    k = keeper()
    k.renew(NOW, "1", Cloud())
    k.fresh_token_rejected(NOW + 5)
    assert k.failures() == 1 and k.login_wait(NOW + 5) == 300
    assert len(k._log["attempts"]) == 1
    assert k.renewal_due(NOW + 5) == "the Envoy rejected the token"


def test_cloud_down_keeps_the_old_token():
    k = keeper()
    store.save(TOKEN_FILE, {"token": make(exp=NOW + 10 * DAY)})
    k.load()
    old = k.token
    k.renew(NOW, "1", Cloud(fail="Entrez token: network error 110"))
    assert k.token == old and k.usable(NOW)


def test_days_left_from_an_esp32_clock():
    # The ESP32's time.time() counts from 2000; the board turns it into Unix seconds.
    k = keeper(token=make(exp=NOW + 100 * DAY))
    k.load()
    native = NOW - EPOCH_2000
    assert k.days_left(unix_from_native(native, EPOCH_2000)) == 100
    assert k.days_left(unix_from_native(NOW, 0)) == 100


def test_no_secret_in_the_login_record():
    k = keeper(password="hunter2-secret")
    k.renew(NOW, "1", Cloud())
    with open(CLOUD_FILE) as f:
        text = f.read()
    assert "hunter2" not in text and k.token not in text


def test_an_attempt_is_on_flash_before_the_cloud_is_asked():
    # A power cut mid-login must still count: the next boot waits instead of logging in again.
    k = keeper()
    seen = []

    def fetch(serial):
        with open(CLOUD_FILE) as f:
            seen.append(json.load(f))
        raise Exception("power cut")

    k.renew(NOW, "1", fetch)
    assert seen[0]["attempts"] == [NOW] and seen[0]["next"] == NOW + 300
    rebooted = TokenKeeper({"token": ""}, {"email": "me@example.com", "password": "pw"})
    assert rebooted.login_wait(NOW + 1) == 299
