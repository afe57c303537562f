# The account guard: the record of cloud logins kept in cloud.json (attempts in the last day,
# back-off after failures, restarts for a login), read and checked. Its verdict (when the next
# login is allowed) is kept in the keeper, so that a board deciding mid-run whether to restart
# for a login loads nothing; before the clock is set, it loads only this.
import hashlib

from firmware import console, store
from firmware.clock import is_set
from firmware.tokens import FIRST_BACKOFF_S, LOGINS_PER_DAY, MAX_BACKOFF_S, YEAR_2100


def _credential_id(email, password):
    # Changed credentials (a fixed typo) deserve a fresh start of the back-off.
    h = hashlib.sha256(("%s\n%s" % (email, password)).encode()).digest()
    return "".join("%02x" % b for b in h[:8])


def _is_time(t):
    return type(t) is int and 0 <= t <= YEAR_2100


def _login_record(saved, cred, path):
    # cloud.json, field by field: a damaged field is dropped and said, never trusted.
    log = {"cred": cred, "attempts": [], "next": 0, "failures": 0, "restart": 0}
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
    for name, limit in (("next", YEAR_2100), ("failures", 1000), ("restart", YEAR_2100)):
        v = saved.get(name, 0)
        if type(v) is int and 0 <= v <= limit:
            log[name] = v
        else:
            bad.append(name)
    if bad:
        console.problem("token: %s: %s damaged; ignoring it" % (path, " and ".join(bad)))
    return log


def record(k):
    """The keeper's login record, read from its cloud file at first use."""
    if k._log is None:
        cred = _credential_id(k._email, k._password)
        k._log = _login_record(store.load(k.cloud_file), cred, k.cloud_file)
    return k._log


def login_wait(k, now):
    """Seconds before the next cloud login is allowed (0: now); never more than a day."""
    now = int(now)
    log = record(k)
    if is_set(now) and (
        log["next"] > now + MAX_BACKOFF_S or log["attempts"] and log["attempts"][-1] > now
    ):
        # Written while the clock was wrong (a year like 2096): it would block for decades.
        console.problem(
            "token: %s holds logins from the future (the clock was wrong); forgetting them"
            % k.cloud_file
        )
        log["attempts"] = [t for t in log["attempts"] if t <= now]
        log["next"] = log["failures"] = 0
    attempts = [t for t in log["attempts"] if t > now - 86400]
    log["attempts"] = attempts
    wait = log["next"] - now
    if len(attempts) >= LOGINS_PER_DAY:
        wait = max(wait, attempts[-LOGINS_PER_DAY] + 86400 - now)
    wait = max(0, min(MAX_BACKOFF_S, wait))
    # Kept (tokens.TokenKeeper.login_wait) only with a set clock: with the clock at 2000, the
    # attempts of the last day cannot be told.
    k.login_at = now + wait if is_set(now) else None
    return wait


def logins_today(k, now):
    """Cloud logins in the last 24 hours."""
    return len([t for t in record(k)["attempts"] if now - 86400 < t <= now])


def failures(k):
    return record(k)["failures"]


def note(k, now, ok, attempt=True):
    """Update the login record and save it; False when the flash refused it."""
    now = int(now)
    log = record(k)
    if attempt:
        log["attempts"] = sorted(log["attempts"] + [now])[-LOGINS_PER_DAY:]
    if ok:
        log["failures"] = 0
        log["next"] = 0
    else:
        n = min(log["failures"] + 1, 1000)
        log["failures"] = n
        log["next"] = now + min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** min(n - 1, 16))
    login_wait(k, now)  # the kept verdict follows the record
    return store.save(k.cloud_file, log)
