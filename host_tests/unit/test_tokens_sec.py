# The account guard against a clock that lies (issue 20): a spoofed NTP that flips the clock
# years ahead at every other boot must not multiply cloud logins; the limit (6 a day) and the
# back-off hold whatever the clock does, and nothing blocks for decades (both runtimes).
import json
import os

from support import tmpdir
from test_tokens import DAY, NOW, Cloud

from firmware.guard import LOGINS_PER_DAY
from firmware.tokens import CLOUD_FILE, TokenKeeper

YEARS_AHEAD = 70 * 365 * DAY  # 2096


def boot():
    return TokenKeeper({"token": ""}, {"email": "me@example.com", "password": "pw"})


def up(k, seconds):
    """seconds of uptime since k read its record."""
    k._read_at -= seconds


def test_a_clock_that_flips_years_ahead_every_other_boot_keeps_six_logins_a_day():
    # The scenario: a boot every 10 minutes for 4 hours, each wanting a login, with the
    # clock in 2096 at every other boot. Before: 24 logins.
    os.chdir(tmpdir())
    cloud = Cloud()
    for i in range(24):
        now = NOW + 600 * i + (YEARS_AHEAD if i % 2 else 0)
        k = boot()
        k.renew(now, "1", cloud)
    assert cloud.calls <= LOGINS_PER_DAY, cloud.calls
    # And so on for a day and a half: still six in any day of the board's time.
    for i in range(24, 24 + 6 * 36):
        now = NOW + 600 * i + (YEARS_AHEAD if i % 2 else 0)
        k = boot()
        up(k, 600)  # each boot ran 10 minutes before it asked
        k.renew(now, "1", cloud)
    assert cloud.calls <= 2 * LOGINS_PER_DAY, cloud.calls


def test_a_clock_that_jumps_ahead_after_going_back_ages_nothing():
    os.chdir(tmpdir())
    cloud = Cloud(fail="Enlighten login: Enphase's server failed (503)")
    k = boot()
    k.renew(NOW, "1", cloud)  # a failure: 5 minutes' back-off
    k = boot()
    assert k.login_wait(NOW - 3 * DAY) == 300  # the clock went back: the back-off stands
    k = boot()
    assert k.login_wait(NOW + 10 * YEARS_AHEAD // 70) == 300  # and then 10 years ahead: too
    up(k, 300)
    assert k.login_wait(NOW + 10 * YEARS_AHEAD // 70 + 300) == 0  # five minutes of uptime


def test_a_clock_right_again_after_a_spoofed_year_recovers_within_a_day_of_uptime():
    os.chdir(tmpdir())
    k = boot()
    for i in range(LOGINS_PER_DAY):
        k.renew(NOW + YEARS_AHEAD + i, "1", Cloud())  # six logins with the clock in 2096
    k = boot()
    assert DAY - 10 <= k.login_wait(NOW) <= DAY  # not decades: at most a day
    up(k, DAY)
    assert k.login_wait(NOW + DAY) == 0


def test_restarts_for_a_login_keep_their_pace_whatever_the_clock_does():
    os.chdir(tmpdir())
    k = boot()
    k.login_wait(NOW)
    assert k.restart_allowed(NOW)
    k = boot()
    assert not k.restart_allowed(NOW - 5 * DAY)  # the clock went back: not a new 15 minutes
    k = boot()
    assert not k.restart_allowed(NOW + YEARS_AHEAD)  # doubted: a jump ahead proves nothing
    up(k, 900)
    assert k.restart_allowed(NOW + YEARS_AHEAD + 900)


def test_a_clock_that_never_lies_is_trusted_as_before():
    os.chdir(tmpdir())
    cloud = Cloud()
    for i in range(LOGINS_PER_DAY):
        boot().renew(NOW + i * 3600, "1", cloud)
    assert boot().renew(NOW + 7 * 3600, "1", cloud) is None
    k = boot()  # a board off for two days: its clock says so, and it is believed
    assert k.login_wait(NOW + 2 * DAY) == 0 and k.renew(NOW + 2 * DAY, "1", cloud)
    with open(CLOUD_FILE) as f:
        saved = json.load(f)
    assert saved["doubt"] == 0 and saved["clock"] == NOW + 2 * DAY
