# Hypothesis fuzzing of what tokens.py loads from flash (CPython only: MicroPython has no
# hypothesis, and this module then defines no tests): any JSON in cloud.json or token.json gives
# no exception and never a login wait over 24 hours.
import json
import os

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:
    st = None

from jwts import make
from support import tmpdir

from firmware.guard import _credential_id
from firmware.tokens import CLOUD_FILE, TOKEN_FILE, TokenKeeper

if st is not None:
    FUZZ = settings(
        derandomize=True,
        database=None,
        max_examples=500,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    NOW = 1795000000
    DAY = 86400
    CRED = _credential_id("me@example.com", "pw")
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats()
        | st.text(max_size=8)
    )
    any_json = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=10,
    )
    times = st.integers(0, 2 * NOW) | st.sampled_from([NOW - 1, NOW, NOW + 1, 4000000000])
    field = times | scalars | st.lists(times | scalars, max_size=8)
    record = st.fixed_dictionaries(
        {"cred": st.just(CRED) | scalars},
        optional={"attempts": field, "next": field, "failures": field},
    )
    _folder = []

    def board_with(name, content):
        """A TokenKeeper over a folder whose file `name` holds content (reused per example)."""
        if not _folder:
            _folder.append(tmpdir())
        os.chdir(_folder[0])
        for f in (TOKEN_FILE, CLOUD_FILE):
            if os.path.exists(f):
                os.remove(f)
        with open(name, "w") as f:
            f.write(content)
        return TokenKeeper({"token": ""}, {"email": "me@example.com", "password": "pw"})

    def fail(serial, first=None, another=None):
        raise Exception("Enlighten login: Enphase's server failed (503)")

    @FUZZ
    @given(record | any_json, st.integers(0, 3 * DAY))
    def test_any_login_record_never_blocks_more_than_a_day(saved, later):
        k = board_with(CLOUD_FILE, json.dumps(saved))
        for now in (NOW, NOW + later):
            wait = k.login_wait(now)
            assert type(wait) is int and 0 <= wait <= DAY, (saved, wait)
            assert 0 <= k.logins_today(now) <= 6 and type(k.failures()) is int
        k.renew(NOW + later, "1", fail)  # a failure: the back-off grows, still within a day
        assert 0 < k.login_wait(NOW + later) <= DAY
        again = TokenKeeper({"token": ""}, {"email": "me@example.com", "password": "pw"})
        assert 0 < again.login_wait(NOW + later) <= DAY  # and what it saved loads back

    @FUZZ
    @given(st.text(max_size=60))
    def test_any_text_in_cloud_json(text):
        k = board_with(CLOUD_FILE, text)
        assert 0 <= k.login_wait(NOW) <= DAY

    jwts = st.builds(
        make,
        aud=st.just("122446001637") | scalars,
        exp=times | scalars | st.sampled_from([10**400, 2**64]),
        iat=times | scalars,
        role=st.sampled_from(["owner", "installer"]) | scalars,
        username=st.just("me@example.com") | scalars,
    )

    @FUZZ
    @given(
        st.fixed_dictionaries({"token": jwts | any_json | st.text(max_size=40)}) | any_json,
        st.sampled_from([NOW, NOW + 400 * DAY]),
    )
    def test_any_token_json_is_a_token_or_unusable(saved, now):
        k = board_with(TOKEN_FILE, json.dumps(saved))
        line = k.load()
        assert type(line) is str and line.startswith("token: ")
        if k.token is None:
            assert k.renewal_due(now) == "no token yet" and k.days_left(now) is None
        else:
            assert type(k.days_left(now)) is float
