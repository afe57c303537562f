# Differential fuzzing of JSON: hypothesis draws JSON-ish texts; CPython's json.loads, the
# micropython binary's json.loads (one batch process) and firmware.config.parse on both runtimes
# answer each. config.parse must give the same answer on both runtimes (the same value or the
# same message), accept only what both json.loads accept with the same value, and refuse what
# CPython accepts only for the reasons it names on purpose.
import json
import math
import re

from hypothesis import strategies as st
from mpbatch import collect, run

from firmware import config

# The same code runs here and in micropython: a value as comparable tokens (dicts sorted, text
# as UTF-8 hex, floats compared with a tolerance: the two runtimes parse and print them apart).
CANON = """
import binascii, json

def canon(v, out):
    t = type(v)
    if t is dict:
        out.append("{")
        for k in sorted(v):
            canon(k, out)
            canon(v[k], out)
        out.append("}")
    elif t is list:
        out.append("[")
        for x in v:
            canon(x, out)
        out.append("]")
    elif t is str:
        out.append("s" + binascii.hexlify(v.encode("utf-8", "surrogatepass")).decode())
    elif t is float:
        out.append("f" + repr(v))
    else:
        out.append(repr(v))
    return out

def outcome(fn, x):
    try:
        return "1" + " ".join(canon(fn(x), []))
    except ValueError as e:  # UnicodeError too
        return "0" + str(e)
    except Exception as e:
        return "!" + type(e).__name__ + " " + str(e)
"""
MP_SCRIPT = (
    CANON
    + """
from firmware import config

def answer(data):
    try:
        text = (data[3:] if data[:3] == b"\\xef\\xbb\\xbf" else data).decode()
    except UnicodeError:
        text = None
    raw = "-" if text is None else outcome(json.loads, text)
    return (raw + "\\x00" + outcome(config.parse, data)).encode("utf-8", "surrogatepass")
"""
)
_ns = {}
exec(CANON, _ns)
outcome = _ns["outcome"]

TOKENS = (
    "{ } [ ] , : 0 1 01 - + . e E 1.5 -0 1e5 1e400 1.e5 true false null tru True NaN Infinity "
    "nan 'a' / # x _ é"
).split() + [" ", "\n", "\t", "\r", "\x0c", "\x0b", "\x00", "\x7f", "\u00a0", "\u2028", "\ufeff"]
TOKENS += ['"a"', '"', '"\\', "\\", "\\u", "\\ud83d", "\\ude00", "\\u00e9", "\\x", "\\n", "\\/"]
TOKENS += ['"k":', '"k":1', '{"k":', ",}", ",]", "//c\n", "/*c*/", "1" * 45]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def dumped(draw):
    v = draw(values)
    indent = draw(st.sampled_from([None, 0, 2, "\t"]))
    ascii_only = draw(st.booleans())
    seps = draw(st.sampled_from([None, (",", ":"), (" , ", " : ")]))
    return json.dumps(v, indent=indent, ensure_ascii=ascii_only, separators=seps)


@st.composite
def mutated(draw):
    text = draw(dumped())
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from("idr"))
        token = "" if op == "d" else draw(st.sampled_from(TOKENS))
        text = text[:i] + token + text[i + (0 if op == "i" else 1) :]
    return text


@st.composite
def trailing_comma(draw):
    # the first leniency a user meets: a comma left after the last item
    text = draw(dumped())
    ends = [i for i, c in enumerate(text) if c in "]}"] or [len(text)]
    i = draw(st.sampled_from(ends))
    return text[:i] + draw(st.sampled_from([",", ", ", ",\n"])) + text[i:]


texts = st.one_of(
    dumped(),
    trailing_comma(),
    mutated(),
    mutated(),
    st.lists(st.sampled_from(TOKENS), max_size=12).map("".join),
    st.text(alphabet='{}[],:"\\ \n\t0123456789-+.eEtrufalsn\u00e9', max_size=16),
)
inputs = st.one_of(
    texts.map(lambda t: t.encode("utf-8", "surrogatepass")),
    texts.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=24),
)

# Refusals of strict JSON that CPython accepts, each on purpose (see firmware/strictjson.py):
# a key twice in one object too (CPython keeps the last; issue 20 refuses it).
ON_PURPOSE = re.compile(
    r"'-?(NaN|Infinity)|half of a pair|number of over|nested more than|not UTF-8"
    r"|twice in one object"
)
N = 3000
BOM = b"\xef\xbb\xbf"


def same(a, b):
    """Two outcomes agree: the same acceptance, message or tokens (floats within 1e-12)."""
    if a[:1] != b[:1]:
        return False
    if a[:1] != "1":
        return a == b
    ta, tb = a[1:].split(" "), b[1:].split(" ")
    if len(ta) != len(tb):
        return False
    for x, y in zip(ta, tb, strict=True):
        if x[:1] == "f" and y[:1] == "f":
            fx, fy = float(x[1:]), float(y[1:])
            if not (fx == fy or math.isclose(fx, fy, rel_tol=1e-12) or fx != fx and fy != fy):
                return False
        elif x != y:
            return False
    return True


def kind(message):
    """A refusal's class, without the line and the quoted text."""
    return re.sub(r"'[^']*'|\\u[0-9a-fA-F]{4}| on line \d+", "X", message[1:])


def test_config_parse_agrees_on_both_runtimes_and_with_strict_json():
    corpus = collect(inputs, N)
    answers = run(MP_SCRIPT, corpus)
    mp_lenient = {}
    for data, mp in zip(corpus, answers, strict=True):
        mp_raw, mp_parse = mp.decode("utf-8", "surrogatepass").split("\x00")
        py_parse = outcome(config.parse, data)
        assert py_parse[:1] in "01", (data, py_parse)  # never anything but ValueError
        assert same(py_parse, mp_parse), (data, py_parse, mp_parse)
        try:
            text = (data[3:] if data[:3] == BOM else data).decode()  # config.parse skips it
        except UnicodeError:
            assert py_parse[:1] == "0"
            continue
        py_raw = outcome(json.loads, text)
        if py_parse[0] == "1":  # strict JSON: both runtimes' json read it, and read it alike
            assert same(py_raw, py_parse) and same(mp_raw, py_parse), (data, py_raw, mp_raw)
        elif py_raw[0] == "1":
            assert ON_PURPOSE.search(py_parse), (data, py_parse)
        if mp_raw[:1] == "1" and py_raw[:1] != "1":
            k = kind(py_parse)
            mp_lenient[k] = mp_lenient.get(k, 0) + 1
    # What the fuzzing finds MicroPython accepting that CPython refuses (pytest -s shows it).
    for k in sorted(mp_lenient, key=mp_lenient.get, reverse=True):
        print("micropython accepts, cpython refuses: %4d  %s" % (mp_lenient[k], k))
    assert kind("0not valid JSON (a trailing comma before '}' on line 1)") in mp_lenient
    assert len(mp_lenient) >= 8, mp_lenient  # the fuzzing reaches the other leniencies too


def test_the_batch_sees_micropython_leniency():
    # The harness itself: a text that MicroPython's json accepts and CPython's refuses.
    (answer,) = run(MP_SCRIPT, [b'{"a": 1,}'])
    raw, parsed = answer.decode().split("\x00")
    assert raw == "1{ s61 1 }", raw
    assert parsed == "0not valid JSON (a trailing comma before '}' on line 1)", parsed
