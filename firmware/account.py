# The cloud side of the Envoy token, loaded only when a token is read or a login is made (at boot,
# about once a year, after a refusal): checking a token's claims (jwt.py) and one login attempt,
# within the account guard (guard.py). The keeper (tokens.TokenKeeper) stays resident; this
# module and jwt.py are unloaded after use, so their code costs no heap between.
from firmware import jwt, store
from firmware.clock import YEAR_2000, YEAR_2100
from firmware.guard import LOGINS_PER_DAY, login_wait, logins_today, note
from firmware.jwt import MAX_TOKEN


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
        via = saved.get("via") if type(saved) is dict else None
        k.via = via if via in ("owner", "web") else None
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


def renew(k, now, serial, fetch):
    """One cloud attempt, if allowed. fetch(serial, first, another) returns (token, the path
    that gave it) or raises enlighten.CloudError; first: the path to try first (the one that
    worked last); another(): may the other path be tried too (it is one more login). Returns a
    line for the console; k.problem is set on failure, and the old token stays in use."""
    wait = login_wait(k, now)
    if wait:
        return None
    # On flash before the cloud is contacted, counted as a failure until it succeeds: a board
    # that crashes or loses power mid-login cannot log in again at every boot. No record on
    # flash (flash full), no login: nothing else would bound them.
    if not note(k, now, False):
        k.problem = "token: not logging in, the login could not be recorded on flash"
        return k.problem

    def another():
        # The fallback path is a login like any other: within the day's limit, recorded first.
        return logins_today(k, now) < LOGINS_PER_DAY and note(k, now, False)

    try:
        token, via = fetch(serial, k.via or "owner", another)
    except Exception as e:  # enlighten.CloudError; its message holds no secret
        k.problem = "token: %s" % e
        return k.problem + _retry_note(k, now)
    try:
        claims = claims_of(token)
    except ValueError as e:
        k.problem = "token: the cloud sent an unusable token (%s)" % e
        return k.problem + _retry_note(k, now)
    note(k, now, True, attempt=False)  # it was not a failure after all
    was_short = k.claims is not None and k.short(jwt.lifetime(k.claims))
    k.saved = store.save(k.token_file, {"token": token, "via": via})
    use(k, token, "new")
    k.via = via
    k.unproven = True
    more = ""
    if serial and claims.get("aud") != serial:
        more = " (it names Envoy %s, not %s)" % (claims.get("aud"), serial)
    if via == "web":
        more += " (from Entrez's web login: its /tokens endpoint did not answer as before)"
    if k.short(jwt.lifetime(claims)) and not was_short:
        more += (
            ". This account gets tokens of %.0f hours (an installer or self-installer account):"
            " the board renews them at half-life, about %d cloud logins a day (at most %d);"
            " Enphase support can make it an owner account, whose tokens last a year"
            % (jwt.lifetime(claims) / 3600, 86400 * 2 // jwt.lifetime(claims), LOGINS_PER_DAY)
        )
    return "token: new %s token, %s left%s" % (k.kind(), k.left_text(now), more)


def fresh_token_rejected(k, now):
    """A token just fetched was refused by the Envoy: count its login as a failure."""
    note(k, now, False, attempt=False)
    k.unproven = False
    k.reject()


def _retry_note(k, now):
    return "; next login attempt in %d min" % ((login_wait(k, now) + 59) // 60)
