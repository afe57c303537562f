# What a person (diag.py) or a program (MQTT, the update watch) may ask of the diverter, and the
# settings kept across restarts (settings.py): rare work, so loaded for the call and dropped
# after (diverter.Diverter.__getattr__ finds these functions, each with the Diverter first). Its
# lines' text stays out of the heap between calls.
from firmware import console
from firmware.compat import unload


def restart_to_log_in(d, why):
    """A cloud login is due: it runs at boot, before the diverter loads (bootlogin.py)."""
    console.log(
        "token: a cloud login is due (%s); restarting, so that it runs before the diverter "
        "takes the heap" % why
    )
    d._restart()


def restart_for_update(d, line):
    """A look for a release, or a new version's trial: they run at boot (update_boot.py,
    boot.py)."""
    console.log(line)
    if d.kept_dirty:  # an Install may come seconds after a slider moved
        save_settings(d)
    d._restart()


def details(d):
    """More than the snapshot, for a person at the REPL (diag.status())."""
    from firmware.details import details

    return details(d)


def force_on(d, minutes=60, guarded=False):
    """guarded: the safety rules still apply (stale data, min_off_s, tank hot); MQTT's."""
    d.policy.force_on(d.board.uptime(), minutes, guarded)
    console.log(
        "manual: relay forced ON for %d min%s"
        % (minutes, " within the safety rules" if guarded else " (diag.auto() to end it)")
    )


def force_off(d):
    d.policy.force_off()
    console.log("manual: relay forced OFF until diag.auto()")


def auto(d):
    d.policy.auto()
    console.log("manual: back to automatic")


def set_max_import(d, w):
    """The grid allowance (control.max_import_w), kept across restarts until config.json's
    changes; ValueError in burst mode, which has none (it aims at a slight export)."""
    if not hasattr(d.policy.rules, "max_import"):
        raise ValueError("the burst output has no grid allowance")
    d.policy.rules.max_import = int(w)
    _keep(d, "max_import_w", int(w))
    console.log("control: max_import_w=%d, kept until config.json's value changes" % w)


def set_boost(d, kwh):
    """The boost's min_kwh, kept like the grid allowance; ValueError without a boost
    window."""
    b = d.policy.boost
    if b is None:
        raise ValueError("no boost window in config.json (boost.window)")
    b.retarget(kwh * 1000)
    _keep(d, "boost_kwh", kwh)
    console.log("boost: min_kwh=%.1f, kept until config.json's value changes" % kwh)


def set_on_min(d, minutes):
    """How long a remote "on" forces the heater (MQTT's), kept like the others."""
    _keep(d, "on_min", int(minutes))


def repin(d):
    """Forget the Envoy's pinned certificate: the next connection pins it again."""
    d.link.envoy.forget_pin()
    d.link.restart()


# -- settings kept across restarts (settings.py; restored by Diverter._restore, at boot, when the
# heap is fullest: that stays resident) ------------------------------------------------------


def _keep(d, name, value):
    if d.kept.get(name) != value:
        d.kept[name] = value
        d.kept_dirty = True  # saved within a minute: a dragged slider is one write


def save_settings(d):
    from firmware import settings

    settings.save(d.kept, d._defaults())  # a failure is said once by store.py
    d.kept_dirty = False
    unload("firmware.settings")
