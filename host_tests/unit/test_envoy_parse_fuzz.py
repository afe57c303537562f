# Hypothesis fuzzing of envoy_parse (CPython only: MicroPython has no hypothesis, and this module
# then defines no tests). Any bytes or JSON value gives a result or ValueError/NoNetPower, and the
# fast path agrees with the full parse or declines.
import json
import math

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:
    st = None

from firmware import envoy_json as ej
from firmware import envoy_parse as ep
from firmware import envoy_setup as es

if st is not None:
    FUZZ = settings(
        derandomize=True,
        database=None,
        max_examples=500,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    EID = 704643584
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats()  # NaN and the infinities too: CPython's json reads them
        | st.text(max_size=12)
    )
    any_json = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    )
    # Keys the parsers look at, so that random objects often hit the interesting paths.
    keys = st.sampled_from(
        [
            "eid",
            "activePower",
            "timestamp",
            "channels",
            "measurementType",
            "state",
            "activeCount",
            "wNow",
            "readingTime",
            "consumption",
        ]
    ) | st.text(max_size=6)
    meterish = st.recursive(
        scalars | st.sampled_from([EID, "enabled", "net-consumption", "total-consumption"]),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
        max_leaves=16,
    )

    eidish = st.sampled_from([EID, 1, True, str(EID), float(EID), -1, 2**40]) | scalars
    meter = st.fixed_dictionaries(
        {
            "eid": eidish,
            "state": st.sampled_from(["enabled", "disabled"]) | scalars,
            "measurementType": st.sampled_from(["net-consumption", "total-consumption"])
            | st.sampled_from(["production"])
            | any_json,
        }
    )
    meter_lists = st.lists(meter | meterish, max_size=5)
    entry = st.fixed_dictionaries(
        {"eid": eidish, "activePower": scalars | any_json, "timestamp": scalars | any_json}
    )

    def is_number(v):
        return type(v) in (int, float) and math.isfinite(v)

    def check_net(result):
        net, stamp = result
        assert type(net) is int and (stamp is None or type(stamp) is int)

    @FUZZ
    @given(st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
    def test_parse_info_gives_a_version_or_a_value_error(body):
        for b in (body, b"<software>" + body + b"</software><sn>" + body + b"</sn>"):
            try:
                software, version, serial = es.parse_info(b)
            except ValueError:
                continue
            assert type(software) is str and version and all(type(x) is int for x in version)
            assert serial is None or type(serial) is str
            assert ep.needs_token(version) in (True, False)

    @FUZZ
    @given(meter_lists | meterish)
    def test_plan_from_meters_any_json(meters):
        try:
            plan = es.plan_from_meters(meters)
        except (ValueError, ep.NoNetPower):
            return
        assert plan[0] in ("net", "total-production")
        assert all(type(e) is int and not isinstance(e, bool) for e in ep.eids(plan))

    @FUZZ
    @given(entry | st.lists(entry | meterish, max_size=3) | meterish, st.sampled_from([EID, 1, 0]))
    def test_reading_any_json(readings, eid):
        try:
            p, stamp = ej.reading(readings, eid)
        except ValueError:
            return
        assert is_number(p) and abs(p) < 1e9
        assert stamp is None or type(stamp) is int
        # true == 1 and 1.0 == 1, but neither is meter 1
        entries = [readings] if type(readings) is dict else readings
        assert any(type(x) is dict and type(x.get("eid")) is int for x in entries)

    @FUZZ
    @given(st.lists(entry, max_size=3) | meterish, st.lists(entry, max_size=3) | meterish)
    def test_net_from_readings_any_json(first, second):
        for plan in (("net", EID), ("total-production", EID, 1)):
            try:
                check_net(ej.net_from_readings(plan, first, second))
            except ValueError:
                pass

    @FUZZ
    @given(meterish)
    def test_net_from_production_any_json(report):
        for r in (report, {"consumption": report}, {"consumption": [report]}):
            try:
                check_net(ej.net_from_production(r))
            except (ValueError, ep.NoNetPower):
                pass

    def full_parse(raw, eid, phases=0):
        """What the client does when the fast path declines: json.loads, then reading()."""
        try:
            return ej.reading(json.loads(raw), eid, phases)
        except ValueError:  # a Glitch too
            return "error"

    def agrees(raw, eid=EID, slack=b""):
        """The fast path, if taken (with the phase count unknown, and with 2 or 3 phases), gives
        what the full parse gives. True when it was taken with the phase count unknown."""
        buf = bytearray(raw + slack)  # the connection's buffer can be longer than the body
        for phases in (2, 3):
            fast = ep.scan_reading(buf, len(raw), eid, phases)
            if fast is not None:
                assert fast == full_parse(raw, eid, phases), (raw, phases, fast)
        fast = ep.scan_reading(buf, len(raw), eid)
        if fast is None:
            return False
        assert fast == full_parse(raw, eid), (raw, fast)
        assert type(fast[0]) is type(full_parse(raw, eid)[0])
        return True

    @FUZZ
    @given(st.binary(max_size=200), st.integers(-5, 300), st.sampled_from([EID, 5, 0]))
    def test_scan_reading_on_any_bytes_is_exact_or_declines(raw, n, eid):
        fast = ep.scan_reading(bytearray(raw), n, eid)
        if fast is not None:
            body = raw[: max(0, n)]
            assert fast == full_parse(body, eid)

    @FUZZ
    @given(
        st.binary(max_size=40),
        st.integers(0, 200),
        st.integers(0, 255),
        st.sampled_from([b"5", b"1.5", b"-2e3", b"true", b'"x"', b"{}", b"[", b"}", b",", b" "]),
    )
    def test_scan_reading_on_mutated_replies_is_exact_or_declines(junk, at, byte, insert):
        raw = b'{"eid": 5, "timestamp": 17, "activePower": 12.5, "channels": [{"eid": 6}]}'
        at = at % (len(raw) + 1)
        for mutated in (
            raw[:at] + insert + raw[at:],
            raw[:at] + bytes([byte]) + raw[at + 1 :],
            raw[:at] + junk + raw[at:],
            raw[:at],
        ):
            agrees(mutated, 5, b"trailing bytes")

    # A readings-like strategy: the top-level fields in any order, maybe repeated, with the right
    # types most of the time, plus channels and other fields; serialised every way json can.
    numbers = st.integers(-(10**12), 10**12) | st.floats(-2e9, 2e9)
    oddities = scalars | st.lists(scalars, max_size=2) | st.dictionaries(keys, scalars)
    channel = st.dictionaries(
        st.sampled_from(["eid", "activePower", "timestamp", "voltage"]), numbers | oddities
    )
    field = st.one_of(
        st.tuples(st.just("eid"), st.just(EID) | st.sampled_from([EID + 1, True, str(EID)])),
        st.tuples(st.just("activePower"), numbers | oddities),
        st.tuples(st.just("timestamp"), numbers | oddities),
        st.tuples(st.just("channels"), st.lists(channel, max_size=3)),
        st.tuples(st.sampled_from(["voltage", "note", "activePower ", "eid\u00e9"]), oddities),
    )
    layout = st.sampled_from(
        [
            {"indent": 4},
            {},
            {"separators": (",", ":")},
            {"indent": "\t"},
            {"ensure_ascii": False, "indent": 1},
        ]
    )

    def serialise(pairs, how):
        # Duplicate keys too (json.dumps of a dict cannot make them): the last one counts.
        if not how.get("indent") and not how.get("separators"):
            return (
                "{%s}" % ", ".join(json.dumps(k) + ": " + json.dumps(v) for k, v in pairs)
            ).encode()
        return json.dumps(dict(pairs), **how).encode()

    @FUZZ
    @given(st.lists(field, max_size=7), layout)
    def test_scan_reading_agrees_with_the_full_parse_on_readings_like_json(pairs, how):
        agrees(serialise(pairs, how), EID, b"x" * 3)

    @FUZZ
    @given(
        st.floats(-2e9, 2e9) | st.integers(-(10**9), 10**9),
        st.integers(0, 2**40) | st.floats(0, 2e9),
        st.lists(st.dictionaries(st.sampled_from(["eid", "activePower"]), numbers), max_size=3),
        st.permutations(["eid", "timestamp", "activePower", "channels", "voltage"]),
        layout,
    )
    def test_scan_reading_takes_the_fast_path_for_a_well_formed_reading(
        power, stamp, channels, order, how
    ):
        values = {
            "eid": EID,
            "timestamp": stamp,
            "activePower": power,
            "channels": channels,
            "voltage": 230.1,
        }
        raw = serialise([(k, values[k]) for k in order], how)
        want = full_parse(raw, EID)
        if want == "error":
            return  # beyond MAX_W: declining is right
        assert agrees(raw), (raw, want)  # not declined: the fast path is really used
