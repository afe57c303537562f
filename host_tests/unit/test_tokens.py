# tokens.py: when to renew, and protecting the Enlighten account (both runtimes).
import json
import os

from jwts import make
from support import contains, tmpdir

from firmware import console, store
from firmware.compat import EPOCH_2000, unix_from_native
from firmware.enlighten import CloudError
from firmware.tokens import CLOUD_FILE, TOKEN_FILE, TokenKeeper

NOW = 1795000000  # 2026-11-18
DAY = 86400


def keeper(token="", email="me@example.com", password="pw"):
    os.chdir(tmpdir())
    return TokenKeeper({"token": token}, {"email": email, "password": password})


class Cloud:
    """A fake fetch(serial, first, another): hands out tokens, or fails as told. gone: the paths
    whose endpoint answers as if retired (then the other is tried if another() allows it)."""

    def __init__(self, fail=None, exp=NOW + 365 * DAY, life=365 * DAY, gone=()):
        self.calls = 0
        self.fail = fail
        self.exp = exp
        self.life = life
        self.gone = gone
        self.tried = []

    def __call__(self, serial, first="owner", another=None):
        self.calls += 1
        if self.fail:
            raise Exception(self.fail)
        for path in (first, "web" if first == "owner" else "owner"):
            self.tried.append(path)
            if path not in self.gone:
                return make(aud=serial, exp=self.exp, iat=self.exp - self.life), path
            if another is None or not another():
                break
        raise CloudError("gone", "Entrez token: the endpoint seems gone (400)")


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
    assert k.renewal_due(NOW + 6 * 3600 + 1) == "a 12-hour token past half-life"


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
    line = k.renew(NOW, "1", lambda serial, first, another: ("not-a-jwt", first))
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

    def fetch(serial, first, another):
        with open(CLOUD_FILE) as f:
            seen.append(json.load(f))
        raise Exception("power cut")

    k.renew(NOW, "1", fetch)
    assert seen[0]["attempts"] == [NOW] and seen[0]["next"] == NOW + 300
    rebooted = TokenKeeper({"token": ""}, {"email": "me@example.com", "password": "pw"})
    assert rebooted.login_wait(NOW + 1) == 299


# -- cloud.json and token.json are untrusted ----------------------------------------------------

YEAR_2096 = 4000000000


def cred():
    from firmware.guard import _credential_id

    return _credential_id("me@example.com", "pw")


def reboot_with(record):
    """A TokenKeeper started on a board whose cloud.json holds record."""
    os.chdir(tmpdir())
    with open(CLOUD_FILE, "w") as f:
        f.write(json.dumps(record))
    return TokenKeeper({"token": ""}, {"email": "me@example.com", "password": "pw"})


def test_a_failed_login_recorded_with_the_clock_in_2096_holds_its_back_off_not_decades():
    # The clock is back from 2096: the record is neither wiped (a spoofed clock could then
    # wipe it at every boot) nor blocking for decades: its 5 min back-off runs in uptime.
    k = keeper()
    k.renew(YEAR_2096, "1", Cloud(fail="Enlighten login: network error 113"))
    again = TokenKeeper({"token": ""}, {"email": "me@example.com", "password": "pw"})
    assert 295 <= again.login_wait(NOW) <= 300  # not ~25,700 days, nor 0
    cloud = Cloud()
    assert again.renew(NOW, "1", cloud) is None and cloud.calls == 0
    again._read_at -= 300  # five minutes of uptime
    assert again.login_wait(NOW + 300) == 0
    assert again.renew(NOW + 300, "1", cloud) and cloud.calls == 1
    assert again.login_wait(NOW + 301) == 0 and again.failures() == 0


def test_a_back_off_beyond_a_day_is_from_the_future():
    k = reboot_with({"cred": cred(), "attempts": [NOW - 10], "next": NOW + 3 * DAY, "failures": 9})
    assert k.login_wait(NOW) == 0
    assert k.logins_today(NOW) == 1  # the real attempt still counts


def test_wrong_types_in_cloud_json_are_dropped_not_trusted():
    good = {"cred": cred(), "attempts": [NOW - 100], "next": NOW + 200, "failures": 1}
    for field, junk in (
        ("attempts", "x"),
        ("attempts", [None]),
        ("attempts", [True]),
        ("attempts", [NOW - 100.5]),
        ("attempts", {"a": 1}),
        ("attempts", [NOW] * 65),
        ("next", "soon"),
        ("next", True),
        ("next", -5),
        ("next", 10**30),
        ("next", [1]),
        ("failures", "3"),
        ("failures", -1),
        ("failures", 100000),
        ("failures", None),
    ):
        record = dict(good)
        record[field] = junk
        k = reboot_with(record)
        wait = k.login_wait(NOW)  # the record is read when a login is first considered
        said = "cloud.json: %s damaged" % field
        assert any(said in line for line in console.recent[-2:]), (said, console.recent[-2:])
        assert 0 <= wait <= 200, (field, junk, wait)
        k.renew(NOW + wait, "1", Cloud(fail="Enlighten login: wrong e-mail or password (401)"))
        assert 0 < k.login_wait(NOW + wait) <= DAY, (field, junk)


def test_a_cloud_json_that_is_not_a_record_is_a_fresh_start():
    for junk in ([], "x", 5, None, [1, 2], True):
        k = reboot_with(junk)
        assert k.login_wait(NOW) == 0 and k.failures() == 0
    k = reboot_with({"cred": 5, "attempts": "x"})  # other credentials: nothing to say
    assert k.login_wait(NOW) == 0


def test_the_wait_never_exceeds_a_day():
    k = reboot_with({"cred": cred(), "attempts": [NOW - i for i in range(6)], "next": NOW + DAY})
    assert k.login_wait(NOW) == DAY
    k = keeper()
    for i in range(30):
        k.renew(NOW + 2 * i * DAY, "1", Cloud(fail="Enlighten login: Enphase's server failed"))
        assert k.login_wait(NOW + 2 * i * DAY) <= DAY
    assert k.login_wait(NOW + 58 * DAY) == DAY and k.failures() == 30


def test_the_login_record_keeps_no_more_than_a_day_of_attempts():
    k = keeper()
    for i in range(40):
        k.renew(NOW + i * DAY, "1", Cloud())
    with open(CLOUD_FILE) as f:
        assert len(json.load(f)["attempts"]) <= 6


def test_a_stored_token_with_wrong_types_is_unusable_not_a_crash():
    for junk in (
        {"token": 5},
        {"token": ["a.b.c"]},
        {"token": None},
        {"token": "x" * 5000},
        {"token": make(exp=10**400)},
        {"token": make(exp=2**31, iat=-5)},
        {"token": make(aud=["1", "2"])},
        {"token": make(role={"owner": 1})},
        {"token": make(username=7)},
        [make()],
        "a.b.c",
    ):
        k = keeper()
        store.save(TOKEN_FILE, junk)
        line = k.load()  # store.load refuses a file too big or not an object: "none yet"
        assert "unusable" in line or "none yet" in line, line
        assert k.token is None and k.renewal_due(NOW) == "no token yet", junk
        assert k.days_left(NOW) is None


def test_a_pasted_token_with_impossible_claims_is_reported_not_a_crash():
    k = keeper(token=make(exp=10**400))
    contains(k.load(), "pasted token is unusable")
    assert not k.usable(NOW)


def test_the_cloud_sending_a_token_with_impossible_claims_counts_as_a_failure():
    k = keeper()
    line = k.renew(NOW, "1", lambda serial, first, another: (make(exp=10**400), first))
    contains(line, "unusable token")
    assert k.token is None and k.login_wait(NOW) == 300


def test_token_and_login_record_files_are_parameters():
    os.chdir(tmpdir())
    os.mkdir("host")
    k = TokenKeeper(
        {"token": ""},
        {"email": "me@example.com", "password": "pw"},
        token_file="host/t.json",
        cloud_file="host/c.json",
    )
    k.renew(NOW, "1", Cloud())
    assert sorted(os.listdir("host")) == ["c.json", "t.json"]
    assert not any(name in os.listdir(".") for name in (TOKEN_FILE, CLOUD_FILE))
    again = TokenKeeper(
        {"token": ""},
        {"email": "me@example.com", "password": "pw"},
        token_file="host/t.json",
        cloud_file="host/c.json",
    )
    contains(again.load(), "stored owner token")
    assert again.logins_today(NOW + 1) == 1


def test_a_login_decided_mid_run_loads_neither_the_guard_nor_the_cloud_code():
    import sys

    cred()  # the guard was loaded for the test's own record
    k = reboot_with({"cred": cred(), "attempts": [NOW - 100], "next": NOW + 600, "failures": 2})
    assert k.login_wait(NOW) == 600  # at boot: the guard reads cloud.json, its verdict is kept
    k.done()
    assert "firmware.guard" not in sys.modules
    assert k.login_wait(NOW + 500) == 100 and k.login_wait(NOW + 700) == 0
    assert k.restart_allowed(NOW + 700)
    assert not k.restart_allowed(NOW + 700 + 899)  # not twice within 15 minutes
    assert k.restart_allowed(NOW + 700 + 900)
    assert "firmware.guard" not in sys.modules and "firmware.account" not in sys.modules
    with open(CLOUD_FILE) as f:
        assert json.load(f)["restart"] == NOW + 1600  # recorded, for the next boot


def test_the_kept_verdict_follows_a_failed_login():
    k = reboot_with({"cred": cred(), "attempts": [], "next": 0, "failures": 0})
    assert k.login_wait(NOW) == 0
    k.renew(NOW, "1", Cloud(fail="Enlighten login: wrong e-mail or password (401)"))
    k.done()
    assert k.login_at == NOW + 300 and k.login_wait(NOW + 60) == 240


def test_without_a_set_clock_no_verdict_is_kept():
    k = reboot_with({"cred": cred(), "attempts": [NOW - 100], "next": NOW + 600, "failures": 2})
    k.login_wait(1000)  # an ESP32 that has not synced: the year 2000
    assert k.login_at is None
    assert k.login_wait(NOW) == 600  # read again with the clock set


def test_a_restart_the_flash_cannot_record_is_not_allowed():
    k = reboot_with({"cred": cred(), "attempts": [], "next": 0, "failures": 0})
    k.login_wait(NOW)
    os.remove(CLOUD_FILE)
    os.mkdir(CLOUD_FILE)  # the save fails: a restart could repeat unrecorded
    assert not k.restart_allowed(NOW)


def test_a_gone_token_endpoint_falls_back_to_the_web_login_counted_as_a_login():
    k = keeper()
    cloud = Cloud(gone=("owner",))
    contains(k.renew(NOW, "1", cloud), "from Entrez's web login")
    assert cloud.tried == ["owner", "web"]
    assert k.logins_today(NOW) == 2  # the fallback is a login for the account guard
    assert k.login_wait(NOW) == 0 and k.failures() == 0  # it worked: no back-off
    with open(TOKEN_FILE) as f:
        assert json.load(f)["via"] == "web"
    again = TokenKeeper({"token": ""}, {"email": "me@example.com", "password": "pw"})
    again.load()  # the next boot: the path that worked goes first
    contains(again.renew(NOW + 7 * 3600, "1", cloud), "new owner token")
    assert cloud.tried[2:] == ["web"]


def test_no_fallback_beyond_the_daily_limit():
    k = keeper()
    cloud = Cloud(gone=("owner", "web"))
    lines = [k.renew(NOW + i * 3600, "1", cloud) for i in range(4)]
    assert all("gone" in (line or "") for line in lines[:1])
    assert k.logins_today(NOW + 4 * 3600) <= 6
    assert cloud.tried.count("web") <= 3  # each fallback counted: the limit holds


def test_short_tokens_warn_once_and_renew_at_half_life():
    k = keeper()
    cloud = Cloud(exp=NOW + 12 * 3600, life=12 * 3600)
    line = k.renew(NOW, "1", cloud)
    contains(line, "12.0 hours left")
    contains(line, "tokens of 12 hours")
    assert k.renewal_due(NOW + 5 * 3600) is None
    assert k.renewal_due(NOW + 6 * 3600 + 1) == "a 12-hour token past half-life"
    assert not k.urgent(NOW + 6 * 3600 + 1) and k.urgent(NOW + 9 * 3600 + 1)
    cloud.exp += 6 * 3600
    line = k.renew(NOW + 6 * 3600 + 1, "1", cloud)
    assert "tokens of 12 hours" not in line  # said once, at the first short token


def test_a_long_token_is_urgent_on_its_last_day_only():
    k = keeper()
    k.renew(NOW, "1", Cloud())
    assert not k.urgent(NOW + 300 * DAY) and k.urgent(NOW + 364 * DAY + 1)
