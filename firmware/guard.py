# The account guard: the record of cloud logins kept in cloud.json (attempts in the last day,
# back-off after failures, restarts for a login), read and checked. Its verdict (when the next
# login is allowed) is kept in the keeper, so that a board deciding mid-run whether to restart
# for a login loads nothing; before the clock is set, it loads only this.
#
# The record keeps its own time (tokens.TokenKeeper.clock): the clock's while the clock goes on
# from what the record has seen, else the record's last time plus the uptime since. A clock
# that goes back (a spoofed NTP, an RTC reset) is then doubted for a day of that time, and a
# jump ahead while it is doubted counts for nothing. So no clock can age the attempts faster
# than the board's own uptime once it has been caught going back, and nothing is ever wiped for
# being "from the future": the limit (6 logins a day) and the back-off hold whatever the clock
# does; the time the board is off is what the guard may not count then.
import hashlib

from firmware import console, store
from firmware.clock import DAY_S, YEAR_2100, is_set
from firmware.compat import const
from firmware.console import uptime

LOGINS_PER_DAY = 6  # cloud logins in any 24 hours, whatever happens
_FIRST_BACKOFF_S = const(300)  # after a failed login; doubling
MAX_BACKOFF_S = DAY_S


def _credential_id(email, password):
    # Changed credentials (a fixed typo) deserve a fresh start of the back-off.
    h = hashlib.sha256(("%s\n%s" % (email, password)).encode()).digest()
    return "".join("%02x" % b for b in h[:8])


def _is_time(t):
    return type(t) is int and 0 <= t <= YEAR_2100


def _login_record(saved, cred, path):
    # cloud.json, field by field: a damaged field is dropped and said, never trusted.
    log = {"cred": cred, "attempts": [], "next": 0, "failures": 0, "restart": 0}
    log["clock"] = log["doubt"] = 0
    if saved is None:
        return log
    if type(saved) is not dict:
        console.problem("token: %s is not a login record; starting a new one" % path)
        return log
    if saved.get("cred") != cred:
        return log  # other credentials
    bad = []
    attempts = saved.get("attempts", [])
    if type(attempts) is list and len(attempts) <= 64 and all(_is_time(t) for t in attempts):
        log["attempts"] = sorted(attempts)[-LOGINS_PER_DAY:]
    else:
        bad.append("attempts")
    for name, limit in (
        ("next", YEAR_2100),
        ("failures", 1000),
        ("restart", YEAR_2100),
        ("clock", YEAR_2100),
        ("doubt", YEAR_2100),
    ):
        v = saved.get(name, 0)
        if type(v) is int and 0 <= v <= limit:
            log[name] = v
        else:
            bad.append(name)
    # The record's time: at least the latest it holds (a record of an older version has none).
    seen = max([log["clock"], log["restart"]] + log["attempts"])
    if seen and log["next"] > seen + MAX_BACKOFF_S:  # no failure backs off for over a day
        log["next"] = log["failures"] = 0
        bad.append("next")
    log["clock"] = max(seen, log["next"] - MAX_BACKOFF_S)
    if bad:
        console.problem("token: %s: %s damaged; ignoring it" % (path, " and ".join(bad)))
    return log


def record(k):
    """The keeper's login record, read from its cloud file at first use."""
    if k._log is None:
        cred = _credential_id(k._email, k._password)
        k._log = _login_record(store.load(k.cloud_file), cred, k.cloud_file)
        k._read_at = uptime()
    return k._log


def login_wait(k, now):
    """Seconds before the next cloud login is allowed (0: now); never more than a day."""
    log = record(k)
    t = k.clock(now)
    # The last six stay on record even when the clock says they are old: should the clock
    # later prove a liar, they count again (tokens.TokenKeeper.clock).
    attempts = [a for a in log["attempts"] if a > t - DAY_S]
    wait = log["next"] - t
    if len(attempts) >= LOGINS_PER_DAY:
        wait = max(wait, attempts[-LOGINS_PER_DAY] + DAY_S - t)
    wait = max(0, min(MAX_BACKOFF_S, wait))
    # Kept (tokens.TokenKeeper.login_wait) only with a set clock: with the clock at 2000, the
    # board's own time is not yet known.
    k.login_at = int(now) + wait if is_set(now) else None
    return wait


def logins_today(k, now):
    """Cloud logins in the last 24 hours."""
    record(k)
    t = k.clock(now)
    return len([a for a in k._log["attempts"] if t - DAY_S < a <= t])


def failures(k):
    return record(k)["failures"]


def note(k, now, ok, attempt=True):
    """Update the login record and save it; False when the flash refused it."""
    log = record(k)
    t = k.clock(now)
    if attempt:
        log["attempts"] = sorted(log["attempts"] + [t])[-LOGINS_PER_DAY:]
    if ok:
        log["failures"] = 0
        log["next"] = 0
    else:
        n = min(log["failures"] + 1, 1000)
        log["failures"] = n
        log["next"] = t + min(MAX_BACKOFF_S, _FIRST_BACKOFF_S * 2 ** min(n - 1, 16))
    login_wait(k, now)  # the kept verdict follows the record
    return k.save_log(t)
