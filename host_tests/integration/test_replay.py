# tools/replay.py arithmetic on a synthetic day (the benchmark itself runs in make bench).
from tools import replay


def write_trace(path, rows):
    path.write_text("t_s,pv_w,load_w\n" + "".join("%d,%s,%s\n" % r for r in rows))


def test_one_hour_of_big_surplus(tmp_path):
    # 08:00-09:00 PV 3.3 kW, load 300 W: 3 kW of export for an hour.
    trace = tmp_path / "day.csv"
    write_trace(
        trace, [(t, 3300 if 8 * 3600 <= t <= 9 * 3600 else 0, 300) for t in range(0, 86400, 60)]
    )
    samples, pv_only = replay.series(str(trace), 1, 300)
    assert not pv_only and len(samples) == 86400 - 60 + 1
    ours, states = replay.run(samples, replay.defaults(), 2000, 1)
    assert ours["switches"] == 1
    # On after the 30 s start delay, off when the PV stops (import), after the 60 s stop delay.
    assert 1.95 < ours["diverted"] / 1000 < 2.05
    assert ours["grid"] > 0  # the stop delay imports for a minute after the sun goes
    base, _ = replay.run(samples, replay.BASELINE, 2000, 1)
    assert base["switches"] == 1 and base["grid"] < ours["grid"]


def test_pv_only_days_get_the_base_load(tmp_path):
    trace = tmp_path / "pv.csv"
    trace.write_text("t_s,pv_w,load_w\n0,1000,\n60,1000,\n")
    samples, pv_only = replay.series(str(trace), 30, 250)
    assert pv_only and samples[0][2] == 250
