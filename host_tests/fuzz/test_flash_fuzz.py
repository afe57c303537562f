# Files on flash are untrusted: hypothesis writes state.json (through Heater and Energy, as the app
# loads it) and arbitrary bytes (through store.load). Never an exception, always sane values, on
# CPython here and on the micropython binary (the same inputs, replayed in one batch).
import json
import os

import flashcheck
from hypothesis import given, settings
from hypothesis import strategies as st
from mpbatch import collect, run

ODD = [0, -0.0, 1e308, -1e308, 1e-320, 10**20, 2**63, -3000, 1, 150, 999, 999.5, 1000]
ODD += [2000, 3000, 3000.5, 3001, 19000, 100001, -1, True, False, None, "2000", [2000], {}]
numbers = st.integers() | st.floats() | st.sampled_from(ODD)
anything = st.recursive(
    numbers | st.none() | st.booleans() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
KEYS = list(flashcheck.COUNTERS) + ["day", "other"]
energy = st.dictionaries(st.sampled_from(KEYS), numbers | anything) | anything
state = st.fixed_dictionaries({}, optional={"energy": energy, "learned_w": numbers | anything})


@st.composite
def damaged(draw):
    data = json.dumps(draw(state)).encode()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(data)))
        data = data[:i] + draw(st.binary(max_size=3)) + data[i + draw(st.integers(0, 2)) :]
    return data


files = st.one_of(
    state.map(lambda s: json.dumps(s).encode()),  # CPython writes NaN and Infinity here
    state.map(lambda s: json.dumps(s).encode()),
    anything.map(lambda v: json.dumps(v).encode()),
    damaged(),
    st.binary(max_size=64),
)
FUZZ = settings(max_examples=600, derandomize=True, database=None, deadline=None)


def in_scratch(test):
    def wrapper(*args, **kwargs):
        from support import tmpdir

        os.chdir(tmpdir())
        return test(*args, **kwargs)

    wrapper.__name__ = test.__name__
    return wrapper


@in_scratch
@FUZZ
@given(files)
def test_state_json_never_breaks_the_heater_or_the_counters(data):
    assert flashcheck.state_json(data) is None


@in_scratch
@FUZZ
@given(files)
def test_any_bytes_through_store_load(data):
    assert flashcheck.any_file(data) is None


@in_scratch
def test_the_same_files_on_micropython():
    corpus = collect(files, 1500)
    script = (
        "sys.path.insert(0, %r)\nimport flashcheck\n"
        "def answer(data):\n    return (flashcheck.check(data) or 'ok').encode()\n"
        % os.path.dirname(os.path.abspath(__file__))
    )
    answers = run(script, corpus)
    bad = [(d, a) for d, a in zip(corpus, answers, strict=True) if a != b"ok"]
    assert not bad, bad[:5]
    assert flashcheck.check(b'{"learned_w": -3000, "energy": {"total_wh": null}}') is None
