# The update watch's minute (firmware/update_watch.py), on a stand-in Diverter: a look restarts
# the board only while the heater is off in auto mode; a trial without fresh readings restarts
# after TRIAL_S; the state is a small list the diverter keeps, the module loaded for the minute.
from firmware import update_watch


class _Reading:
    def __init__(self, age):
        self._age = age

    def age(self, up):
        return self._age


class _Diverter:
    def __init__(self, power=0, mode="auto", age=None):
        self.output = type("O", (), {"power": power})()
        self.policy = type("P", (), {"mode": mode})()
        self.link = type("L", (), {"reading": _Reading(age)})()
        self.cfg = {"control": {"stale_s": 30}}
        self.mqtt = None
        self.restarts = []

    def restart_for_update(self, line):
        self.restarts.append(line)


def test_a_look_restarts_only_when_due_and_the_heater_is_off_in_auto():
    w = update_watch.watch(None, 3600, 24)
    assert w == [None, 3600, 24, None]
    d = _Diverter()
    update_watch.minute(w, d, 3599)
    assert d.restarts == []
    busy = _Diverter(power=1)
    update_watch.minute(w, busy, 3600)
    assert busy.restarts == []
    manual = _Diverter(mode="on")
    update_watch.minute(w, manual, 3600)
    assert manual.restarts == []
    update_watch.minute(w, d, 3600)
    assert len(d.restarts) == 1 and "every 24 h" in d.restarts[0], d.restarts


def test_a_trial_without_fresh_readings_restarts_after_its_time():
    w = update_watch.watch("1.2.0", None, 24)
    d = _Diverter(age=None)
    update_watch.minute(w, d, update_watch.TRIAL_S - 1)
    assert d.restarts == []
    update_watch.minute(w, d, update_watch.TRIAL_S)
    assert len(d.restarts) == 1 and "1.2.0 has not proven itself" in d.restarts[0]


def test_a_fresh_reading_starts_the_healthy_minute_and_a_stale_one_ends_it():
    w = update_watch.watch("1.2.0", None, 24)
    update_watch.minute(w, _Diverter(age=5), 100)
    assert w[update_watch.FIRST] == 100
    update_watch.minute(w, _Diverter(age=31), 130)
    assert w[update_watch.FIRST] is None and w[update_watch.TRIAL] == "1.2.0"
