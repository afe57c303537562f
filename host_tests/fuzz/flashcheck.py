# Loading the files on flash as the firmware does, then using what was loaded; each check returns
# None or what went wrong. Imported by the hypothesis tests (CPython) and by the micropython
# batch that replays their inputs, so it sticks to what both runtimes have.
import json

from firmware import store
from firmware.control import Control
from firmware.energy import MAX_DAY, MAX_WH, Energy
from firmware.heater import Heater

RATED_W = 2000
COUNTERS = ("today_wh", "today_grid_wh", "yesterday_wh", "before_wh", "before_grid_wh")
CONTROL = {
    "max_import_w": 200,
    "start_delay_s": 0,
    "stop_delay_s": 0,
    "min_on_s": 0,
    "min_off_s": 0,
    "stale_s": 30,
}


def _number(v):
    return (type(v) is int or type(v) is float) and v == v and -1e300 < v < 1e300


def state_json(data, path="state.json"):
    """data as state.json, loaded as Diverter.__init__ loads it, then a few polls' use."""
    with open(path, "wb") as f:
        f.write(data)
    saved = store.load(path)
    if saved is not None and type(saved) is not dict:
        return "store.load gave %s" % type(saved)
    saved = saved if type(saved) is dict else {}
    heater = Heater(RATED_W, saved.get("learned_w"))
    energy = Energy(saved.get("energy"))
    w = heater.power_w
    if type(w) is not int or not RATED_W // 2 <= w <= RATED_W * 3 // 2:
        return "power_w %r" % (w,)
    for name in COUNTERS:
        v = getattr(energy, name)
        if not _number(v) or not 0 <= v <= MAX_WH:
            return "%s %r" % (name, v)
    total = energy.before_wh + energy.today_wh
    total_grid = energy.before_grid_wh + energy.today_grid_wh
    if energy.today_grid_wh > energy.today_wh or total_grid > total or total > MAX_WH:
        return "grid share over the whole"
    if energy.day is not None and (type(energy.day) is not int or not 0 <= energy.day <= MAX_DAY):
        return "day %r" % (energy.day,)
    control = Control(CONTROL, 0)
    # Importing; a little export; export 100 W short of what a start needs (heater - allowance).
    for net in (500, -150, -(w - CONTROL["max_import_w"] - 100)):
        on, why = control.decide(100, net, 1, False, w)
        if on:
            return "relay ON at net %d W with power_w %d (%s)" % (net, w, why)
    energy.new_day(20000)
    energy.add(60, w, -500)
    energy.add(60, w, 800)
    text = json.dumps({"energy": energy.state(), "learned_w": heater.learned_w})
    again = json.loads(text)
    if Energy(again["energy"]).state() != energy.state():
        return "state.json does not read back: %s" % text
    if Heater(RATED_W, again["learned_w"]).power_w != w:
        return "learned_w does not read back: %s" % text
    return None


def any_file(data, path="any.json"):
    """Any bytes through store.read and store.load: no exception, the promised shapes."""
    with open(path, "wb") as f:
        f.write(data)
    obj, why = store.read(path, None)
    if obj is not None and why is not None or obj is None and why is None and b"null" not in data:
        return "read gave %r, %r" % (obj, why)  # (None, None): a file that holds null
    if why is not None and type(why) is not str:
        return "why %r" % (why,)
    got = store.load(path)
    if got is not None and type(got) is not dict:
        return "load gave %s" % type(got)
    return None


def check(data):
    """Both checks, with any exception reported as a failure (the batch's answer)."""
    for fn in (state_json, any_file):
        try:
            problem = fn(data)
        except Exception as e:
            problem = "%s raised %s: %s" % (fn.__name__, type(e).__name__, e)
        if problem:
            return problem
    return None
