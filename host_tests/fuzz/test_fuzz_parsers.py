# Fuzzing the token and URL parsers (hypothesis, fixed seed): whatever they are given, they
# return a result or raise ValueError with a reason, never anything else.
import binascii
import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from firmware import jwt, urls

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=500,
    suppress_health_check=[HealthCheck.too_slow],
)


def only_value_error(fn, *args):
    try:
        return fn(*args)
    except ValueError as e:
        assert str(e), "a ValueError without a reason"
        return None


def b64url(data):
    return (
        binascii.b2a_base64(data, newline=False)
        .decode()
        .rstrip("=")
        .replace("+", "-")
        .replace("/", "_")
    )


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
claims = st.fixed_dictionaries(
    {},
    optional={
        "exp": st.integers() | json_value,
        "iat": st.integers() | json_value,
        "aud": st.text(max_size=12),
        "enphaseUser": st.sampled_from(["owner", "installer"]),
    },
)
segment = (
    st.binary(max_size=60).map(b64url)
    | claims.map(lambda c: b64url(json.dumps(c).encode()))
    | json_value.map(lambda v: b64url(json.dumps(v).encode()))
    | st.text(max_size=20)
)
token = st.lists(segment, min_size=1, max_size=4).map(".".join)
deep = b64url(b"[" * 5000 + b"]" * 5000)  # JSON nested deeper than CPython's recursion limit


@FUZZ
@given(token | st.text(max_size=200))
@example("%s.%s.c2ln" % (b64url(b'{"alg":"ES256"}'), deep))
def test_jwt_decode(text):
    claims = only_value_error(jwt.decode, text)
    if claims is not None:
        assert type(claims["exp"]) is int and "alg" in claims


@FUZZ
@given(
    token
    | st.binary(max_size=300)
    | token.map(lambda t: json.dumps({"token": t}))
    | json_value.map(json.dumps)
    | token.map(lambda t: '<textarea id="JWTToken" rows="3">%s</textarea>' % t)
    | st.text(max_size=100).map(lambda t: "<html>" + t)
)
@example("[" * 5000 + "]" * 5000)
def test_jwt_extract(reply):
    text = only_value_error(jwt.extract, reply)
    if text is not None:
        assert jwt.looks_like(text)


hosts = st.text(max_size=30) | st.from_regex(r"\A[a-z0-9.]{1,20}(:[0-9]{0,6})?\Z")


@FUZZ
@given(hosts)
def test_split_host(text):
    out = only_value_error(urls.split_host, text)
    if out is not None:
        host, port = out
        assert host and (port is None or 0 < port < 65536)


@FUZZ
@given(
    st.text(max_size=60)
    | hosts.map(lambda h: "https://" + h)
    | st.text().map(lambda p: "https://h/" + p)
)
def test_split_url(url):
    out = only_value_error(urls.split_url, url)
    if out is not None:
        host, port, path = out
        assert host and 0 < port < 65536 and path.startswith("/")
