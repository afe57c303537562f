# While the diverter runs with updates configured or a new version on trial: once a minute, is
# the version on trial healthy (a fresh Envoy reading, then a minute more of control with fresh
# readings), or has its time run out (TRIAL_S, then a restart: boot.py counts the trial boots and
# goes back to the previous version after three)? And is a look for a release due? Looks run at
# boot (update_boot.py), so the board restarts for one, only while the heater is off and no manual
# mode is set. Small and resident; the pointer's code loads only to mark a version healthy.
from firmware import console
from firmware.compat import unload

TRIAL_S = 600  # a version on trial proves itself within this much uptime, or the board restarts
HEALTHY_S = 60  # of control with fresh readings after the first one


class Watch:
    def __init__(self, trial, look_at, check_h):
        """trial: the version on trial, or None; look_at: the uptime at which a look is due, or
        None (no update.url)."""
        self.trial = trial
        self.look_at = look_at
        self.check_h = check_h
        self.first = None  # the uptime of the first fresh reading of a run of them

    def minute(self, d, up):
        """d: the Diverter, once a minute."""
        if self.trial is not None:
            self._trial(d, up)
        elif self.look_at is not None and up >= self.look_at:
            if d.output.power == 0 and d.policy.mode == "auto":
                d.restart_for_update(
                    "update: a look for a new release is due (every %g h); restarting while the "
                    "heater is off, so that it runs at boot" % self.check_h
                )

    def _trial(self, d, up):
        age = d.link.reading.age(up)
        if age is not None and age <= d.cfg["control"]["stale_s"]:
            if self.first is None:
                self.first = up
            elif up - self.first >= HEALTHY_S:
                self._healthy(d)
            return
        self.first = None
        if up >= TRIAL_S:
            d.restart_for_update(
                "update: %s has not proven itself healthy in %d min (no fresh Envoy reading for a "
                "minute); restarting: after 3 such boots the previous version comes back"
                % (self.trial, TRIAL_S // 60)
            )

    def _healthy(self, d):
        from firmware.update_slot import healthy

        line = healthy(self.trial)
        unload("firmware.update_slot")
        if line:
            console.log(line)
        else:
            console.problem("update: %s is healthy, but app.json could not say so" % self.trial)
        self.trial = None
        if d.mqtt:
            d.mqtt.discover = True  # Home Assistant's update entity: installed, not in progress
