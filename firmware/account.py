# The cloud side of the Envoy token, loaded only when a token is read or a login is considered
# (at boot, about once a year, after a refusal): checking a token's claims (jwt.py), the account
# guard kept in cloud.json, and one login attempt. The keeper (tokens.TokenKeeper) stays
# resident; this module and jwt.py are unloaded after use, so their code costs no heap between.
import hashlib

from firmware import console, jwt, store
from firmware.clock import is_set
from firmware.tokens import (
    FIRST_BACKOFF_S,
    LOGINS_PER_DAY,
    MAX_BACKOFF_S,
    MAX_TOKEN,
    YEAR_2000,
    YEAR_2100,
)

RESTART_EVERY_S = 900


def _credential_id(email, password):
    # Changed credentials (a fixed typo) deserve a fresh start of the back-off.
    h = hashlib.sha256(("%s\n%s" % (email, password)).encode()).digest()
    return "".join("%02x" % b for b in h[:8])


def claims_of(token):
    """jwt.decode, plus the ranges and types the board relies on. Raises ValueError(reason)."""
    if type(token) is not str or len(token) > MAX_TOKEN:
        raise ValueError("the token is not text of at most %d characters" % MAX_TOKEN)
    claims = jwt.decode(token)
    for name in ("exp", "iat"):
        t = claims.get(name)
        if t is not None and not YEAR_2000 <= t <= YEAR_2100:
            raise ValueError("the token's %s is not a time between 2000 and 2100" % name)
    for name in ("aud", "enphaseUser", "username"):
        v = claims.get(name)
        if v is not None and (type(v) is not str or len(v) > 256):
            raise ValueError("the token's %s is not text" % name)
    return claims


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


def ca_certificates(ca_file=""):
    """The DER root certificates to trust for the cloud, one at a time: firmware/certs beside
    this module, or certs/ at the root of the flash (a frozen firmware keeps no folder named
    firmware), or only ca_file when given."""
    import os

    if ca_file:
        with open(ca_file, "rb") as f:
            yield f.read()
        return
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    for folder in (here + "/certs", "certs"):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            if name.endswith(".der"):
                with open(folder + "/" + name, "rb") as f:
                    yield f.read()
        return


def record(k):
    """The keeper's login record, read from its cloud file at first use."""
    if k._log is None:
        cred = _credential_id(k._email, k._password)
        k._log = _login_record(store.load(k.cloud_file), cred, k.cloud_file)
    return k._log


def load(k):
    """The pasted token (envoy.token) or the one kept on flash. Returns a line to show."""
    if k.pasted:
        token, source = k._pasted_token, "pasted"
    else:
        saved = store.load(k.token_file)
        if saved is None:
            k.problem = "token: none yet"
            return k.problem
        token = saved.get("token") if type(saved) is dict else None
        source = "stored"
    try:
        return use(k, token, source)
    except ValueError as e:
        k.token = k.claims = None
        if k.pasted:
            k.problem = "token: the pasted token is unusable (%s); fix envoy.token" % e
        else:
            k.problem = "token: the stored token is unusable (%s); getting a new one" % e
        return k.problem


def use(k, token, source):
    k.claims = claims_of(token)
    k.token = token.strip()
    k.rejected = False
    k.problem = None
    k.source = source
    return k.line()


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
    return max(0, min(MAX_BACKOFF_S, wait))


def logins_today(k, now):
    """Cloud logins in the last 24 hours."""
    return len([t for t in record(k)["attempts"] if now - 86400 < t <= now])


def failures(k):
    return record(k)["failures"]


def _record(k, now, ok, attempt=True):
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
    return store.save(k.cloud_file, log)


def renew(k, now, serial, fetch):
    """One cloud attempt, if allowed. fetch(serial) returns a token or raises
    enlighten.CloudError. Returns a line for the console; k.problem is set on failure, and the
    old token stays in use."""
    wait = login_wait(k, now)
    if wait:
        return None
    # On flash before the cloud is contacted, counted as a failure until it succeeds: a board
    # that crashes or loses power mid-login cannot log in again at every boot. No record on
    # flash (flash full), no login: nothing else would bound them.
    if not _record(k, now, False):
        k.problem = "token: not logging in, the login could not be recorded on flash"
        return k.problem
    try:
        token = fetch(serial)
    except Exception as e:  # enlighten.CloudError; its message holds no secret
        k.problem = "token: %s" % e
        return k.problem + _retry_note(k, now)
    try:
        claims = claims_of(token)
    except ValueError as e:
        k.problem = "token: the cloud sent an unusable token (%s)" % e
        return k.problem + _retry_note(k, now)
    _record(k, now, True, attempt=False)  # it was not a failure after all
    store.save(k.token_file, {"token": token})
    use(k, token, "new")
    k.unproven = True
    note = ""
    if serial and claims.get("aud") != serial:
        note = " (it names Envoy %s, not %s)" % (claims.get("aud"), serial)
    return "token: new %s token, %.0f days left%s" % (k.kind(), k.days_left(now), note)


def fresh_token_rejected(k, now):
    """A token just fetched was refused by the Envoy: count its login as a failure."""
    _record(k, now, False, attempt=False)
    k.unproven = False
    k.reject()


def _retry_note(k, now):
    return "; next login attempt in %d min" % ((login_wait(k, now) + 59) // 60)


def restart_allowed(k, now, every_s=RESTART_EVERY_S):
    """May the board restart for a login now? Not twice within every_s, whatever happens at
    boot (no Wi-Fi, no time): a restart is cheap, a restart loop is not. Recorded in cloud.json."""
    log = record(k)
    last = log["restart"]
    if now - every_s < last <= now:
        return False
    log["restart"] = int(now)
    return store.save(k.cloud_file, log)  # unrecorded, it could repeat: no restart then
