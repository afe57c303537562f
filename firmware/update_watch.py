# While the diverter runs with updates configured or a new version on trial: once a minute, is
# the version on trial healthy (a fresh Envoy reading, then a minute more of control with fresh
# readings), or has its time run out (TRIAL_S, then a restart: boot.py counts the trial boots and
# goes back to the previous version after three)? And is a look for a release due? Looks run at
# boot (update_boot.py), so the board restarts for one, only while the heater is off and no manual
# mode is set. The diverter keeps only the state (watch(): a list) and loads this module for a
# minute's check while a trial runs or when a look is due, then drops it; the pointer's code
# loads only to mark a version healthy.
from firmware import console
from firmware.compat import const, unload

TRIAL_S = 600  # a version on trial proves itself within this much uptime, or the board restarts
_HEALTHY_S = const(60)  # of control with fresh readings after the first one


TRIAL = 0  # the state's slots: the version on trial, or None
_LOOK_AT = const(1)  # the uptime at which a look is due, or None (no update.url)
_CHECK_H = const(2)
FIRST = 3  # the uptime of the first fresh reading of a run of them


def watch(trial, look_at, check_h):
    """The state the diverter keeps (Diverter.watch)."""
    return [trial, look_at, check_h, None]


def minute(w, d, up):
    """w: the state; d: the Diverter, once a minute while a trial runs or a look is due (the
    diverter's check, without this module)."""
    if w[TRIAL] is not None:
        _trial(w, d, up)
    elif w[_LOOK_AT] is not None and up >= w[_LOOK_AT]:
        if d.output.power == 0 and d.policy.mode == "auto":
            d.restart_for_update(
                "update: a look for a new release is due (every %g h); restarting while the "
                "heater is off, so that it runs at boot" % w[_CHECK_H]
            )


def _trial(w, d, up):
    age = d.link.reading.age(up)
    if age is not None and age <= d.cfg["control"]["stale_s"]:
        if w[FIRST] is None:
            w[FIRST] = up
        elif up - w[FIRST] >= _HEALTHY_S:
            _healthy(w, d)
        return
    w[FIRST] = None
    if up >= TRIAL_S:
        d.restart_for_update(
            "update: %s has not proven itself healthy in %d min (no fresh Envoy reading for a "
            "minute); restarting: after 3 such boots the previous version comes back"
            % (w[TRIAL], TRIAL_S // 60)
        )


def _healthy(w, d):
    from firmware.update_slot import healthy

    trial = w[TRIAL]
    line = healthy(trial)
    unload("firmware.update_slot")
    if line:
        console.log(line)
    else:
        console.problem("update: %s is healthy, but app.json could not say so" % trial)
    w[TRIAL] = None
    if d.mqtt:
        d.mqtt.discover = True  # Home Assistant's update entity: installed, not in progress
