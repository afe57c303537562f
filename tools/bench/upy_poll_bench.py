# Run by tools/bench/bench_poll.py under the micropython binary: N polls of the simulated Envoy,
# and for each the time and the Python-heap bytes it allocated (GC off during the poll, so nothing
# is freed behind our back). argv: job.json, repository root. Prints one JSON line.
import gc
import json
import sys
import time

sys.path.insert(0, sys.argv[2])
from firmware.envoy import Envoy  # noqa: E402

with open(sys.argv[1]) as f:
    job = json.load(f)
mode, polls = job["mode"], job["polls"]

e = Envoy("127.0.0.1", job["port"], "off")
e.probe()
e.login(job["token"])
e.discover()
session = e.session
# Battery sites (bench_poll --battery): the same poll read four ways.
way = job.get("battery")
if way:
    from firmware import envoy_setup

    if way == "all-meters":
        e.per_meter = False
    elif way == "ensemble":
        e.storage = 0
    envoy_setup._prepare(e)
    e.battery = "" if way == "grid-only" else "bench"  # as ensemble.look() leaves it

if mode == "requests":
    import requests  # micropython-lib, frozen in the unix port: HTTP/1.0, Connection: close

    url = "https://127.0.0.1:%d/ivp/meters/readings/%d" % (job["port"], e.plan[1])
    headers = {
        "Authorization": "Bearer " + job["token"],
        "Cookie": session,
        "Accept": "application/json",
    }
    e.close()

    def poll():
        r = requests.get(url, headers=headers)
        try:
            return r.json()["activePower"]
        finally:
            r.close()

else:

    def poll():
        net = e.read()[0]
        if mode == "reconnect":
            e.close()  # a new TLS connection for every poll
        return net


times, allocs, peaks = [], [], []
gc.collect()
base = gc.mem_alloc()
for _ in range(polls):
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    t = time.ticks_us()
    poll()
    times.append(time.ticks_diff(time.ticks_us(), t) / 1000)
    after = gc.mem_alloc()
    gc.enable()
    allocs.append(after - before)
    peaks.append(after - base)
times.sort()
allocs.sort()
print(
    json.dumps(
        {
            "mode": mode,
            "polls": polls,
            "median_ms": times[len(times) // 2],
            "alloc_median": allocs[len(allocs) // 2],
            "alloc_max": allocs[-1],
            "peak_over_idle": max(peaks),
        }
    )
)
