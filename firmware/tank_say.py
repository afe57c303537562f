# The tank's console lines (tank.py, tank_rules.py), in words. Loaded for a line and unloaded
# after: they are few (a failure, a recovery, a grid target starting and ending) and their text
# would otherwise stay in the heap for good.
from firmware import console


def say(what, *a):
    """Print the line for this event; returns the failure's text for "failed"."""
    if what == "failed":
        why = problem(a[1])
        console.problem(
            "tank: sensor failed on GPIO%d (%s); the thermostat and the learned heater power"
            " decide, as without a sensor" % (a[0], why)
        )
        return why
    if what == "recovered":
        console.log("ok: recovered (tank sensor: tank_c=%.1f)" % a[0])
    elif what == "overruled":
        console.log(
            "heater: the step said tank hot (step_w=%s) but tank_c=%.1f: a load or the sun "
            "changed at that moment; still heating" % ("?" if a[0] is None else "%d" % a[0], a[1])
        )
    elif what == "cold":
        console.log(
            "heater: tank_c=%.1f did not rise in %d min: the thermostat or cut-out is open after "
            "all; no energy counted" % a
        )
    elif what == "record":
        console.problem("tank: tank.json holds no legionella day; ignoring it: a cycle is due")
    elif what == "rule":
        console.log(rule(*a))
    return None


def problem(why):
    kind = why[0]
    if kind == "none":
        return "no DS18B20 found on the bus"
    if kind == "error":
        e = why[1]
        if type(e).__name__ == "OneWireError":
            return "no device answers on the bus: check the wiring and the 4.7 kOhm pull-up"
        return (str(e) or type(e).__name__)[:60]
    if kind == "85":
        return "85.0 C, its power-on value: no conversion was made (check its power wire)"
    if kind == "range":
        return "%.1f C is out of range (1 to 100 C)" % why[1]
    if kind == "jump":
        return "a jump from %.1f to %.1f C in %d s" % why[1:]
    return "not a number: %r" % (why[1],)


def rule(leg_c, note):
    what, t = note[0], note[1]
    if what == "start":
        end = t.end
        return (
            "tank: %s: heating from the grid to %g C by %02d:%02d (tank_c=%.1f, about %d min)"
            % (
                t.reason,
                t.goal,
                end // 60,
                end % 60,
                note[2],
                note[3],
            )
        )
    if what == "done":
        return "tank: %s: done, tank_c=%.1f reached" % (t.reason, note[2])
    if what == "late":
        c = note[2]
        return "tank: %s: done, its time passed at tank_c=%.1f, %.1f K short" % (
            t.reason,
            c,
            t.goal - c,
        )
    if what == "thermostat":
        c = note[2]
        return (
            "tank: %s: done, the element's thermostat opened at tank_c=%s (set it above %g C)"
            % (t.reason, "-" if c is None else "%.1f" % c, t.goal)
        )
    if what == "sensor":
        return "tank: %s: stopped, no temperature (the sensor failed)" % t.reason
    if what == "clock":
        return "tank: %s: stopped, no clock" % t.reason
    if what == "future":
        return "tank: the legionella record is from the future; ignoring it"
    return "tank: legionella_c=%g reached (tank_c=%.1f); the next cycle is due in 7 days" % (
        leg_c,
        note[2],
    )
