# Fuzzing the battery replies' parsers and the policy (hypothesis, fixed seed): any JSON value
# gives a result of the right kind or a ValueError with a reason, never anything else; the
# policy's adjusted grid figure never counts battery discharge as surplus.
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware import battery as bt
from firmware import ensemble as en

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=600,
    suppress_health_check=[HealthCheck.too_slow],
)

scalar = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
json_value = st.recursive(
    scalar,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
device = st.dictionaries(
    st.sampled_from(["real_power_mw", "soc", "serial_num"]), scalar | json_value, max_size=3
)
power_reply = json_value | st.fixed_dictionaries(
    {}, optional={"devices:": st.lists(device, max_size=5) | json_value, "devices": json_value}
)
secctrl_reply = json_value | st.fixed_dictionaries(
    {},
    optional={k: scalar for k in ("agg_soc", "adjusted_backup_soc", "Max_energy", "ENC_agg_soc")},
)


def only_value_error(fn, *args):
    try:
        return fn(*args)
    except ValueError as e:
        assert str(e), "a ValueError without a reason"
        return ValueError


def raw(obj):
    body = json.dumps(obj).encode()
    return body, len(body)


@FUZZ
@given(power_reply)
def test_ensemble_power(obj):
    w = only_value_error(bt.ensemble_power, *raw(obj))
    assert w is None or w is ValueError or type(w) is int
    if isinstance(obj, dict) and isinstance(obj.get("devices:"), list) and w is not ValueError:
        devices = obj["devices:"]  # the scan agrees with the parsed reply
        if w is None:
            assert devices == []
        elif all(isinstance(d, dict) for d in devices) and "devices" not in obj:
            mw = [d.get("real_power_mw") for d in devices]
            if all(type(v) in (int, float) and abs(v) < 1e9 for v in mw):
                assert w == int(round(sum(mw) / 1000))


@FUZZ
@given(st.binary(max_size=80), st.sampled_from([b'"devices:"', b'"agg_soc"', b'"Max_energy"']))
def test_the_scanners_take_any_bytes(body, key):
    body = key + body
    en.number_after(body, len(body), key)
    en.has_items(body, len(body), key)
    only_value_error(bt.ensemble_power, body, len(body))


@FUZZ
@given(secctrl_reply)
def test_secctrl_and_capacity(obj):
    soc, reserve = bt.soc_reserve(*raw(obj))  # never raises
    for pct in (soc, reserve):
        assert pct is None or (type(pct) is int and 0 <= pct <= 100)
    if isinstance(obj, dict) and type(obj.get("agg_soc")) is int and 0 <= obj["agg_soc"] <= 100:
        assert soc == obj["agg_soc"]
    cap = en.capacity(*raw(obj))  # never raises: detection
    assert cap is None or cap > 0


@FUZZ
@given(
    st.sampled_from(["battery", "heater"]),
    st.integers(min_value=-10000, max_value=10000),
    st.integers(min_value=-5000, max_value=5000),
    st.none() | st.integers(min_value=0, max_value=100),
    st.integers(min_value=0, max_value=1000),
    st.sampled_from([None, 1, 29, 31]),
)
def test_discharge_is_never_surplus(priority, grid, battery, soc, x, age):
    b = bt.Battery({"priority": priority, "min_soc": 50}, x, 30, "fuzz")
    b.notes = []
    if age is not None:
        b.power(0, battery)
    b.charge(soc, 20)
    net = b.adjust(age or 0, grid)
    if age is None or age > 30:
        assert net == grid + 2 * x + bt.MARGIN_W  # no data: battery first with a margin
    elif battery > bt.IDLE_W:
        assert net >= grid + battery  # discharge is import
    elif not b.heater_first:
        assert net >= grid  # battery first: only real export is surplus
    else:
        assert net >= grid + battery  # heater first: no more than the charging power
