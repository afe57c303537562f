# A home battery next to the heater (Enphase IQ Battery / Encharge, or the legacy AC Battery).
# In self-consumption mode the battery drives grid power towards 0: charging, it hides the export;
# discharging, it covers a heater that the grid alone would show as import. So the rules are fed
# an adjusted grid figure (policy.py), and the same rules serve the relay and the burst output:
#   battery first: only real export is surplus; any discharge counts as import;
#   heater first:  the charging power counts as available too (the heater takes it before the
#                  battery), while the SoC is at least min_soc (under it: battery first);
#   both:          discharge is never surplus. While the battery can cover a deficit, the grid
#                  allowance X (control.max_import_w) would come from the battery: a start needs
#                  the heater's full power, and a run stops on any sustained discharge;
#   no data:       battery first, and the heater needs MARGIN_W of export beyond that.
# Loaded only on sites where the Envoy shows a battery: Battery is pure (time and readings come
# in); read_power() is the Envoy client's battery code, kept here so that a site without a
# battery never loads it. What a look means for the link (a battery found, or gone) is
# ensemble.py's, loaded for each look.
from firmware import envoy_parse as ep
from firmware.compat import const
from firmware.envoy_parse import EnvoyError

BATTERY = "battery"
HEATER = "heater"
_HYSTERESIS = const(5)  # % of SoC: heater first again at min_soc + this
MARGIN_W = const(300)  # no battery data: export needed beyond battery first's
IDLE_W = const(50)  # a battery's own idle flow: neither charging nor discharging

DISCHARGING = "battery-discharging"
CHARGING = "battery-charging"  # battery first: the battery takes the export
NO_DATA = "battery-no-data"

_OFF_BY_EXPORT = ("low-export", "low-average", "import")


class Battery:
    def __init__(self, cfg, max_import_w, stale_s, source):
        """cfg: config "battery"; source: where its power comes from, for the console."""
        self.priority = cfg["priority"]
        self.min_soc = cfg["min_soc"]
        self.allowance = max_import_w
        self.stale_s = stale_s
        self.source = source
        self.w = None  # W, + discharging (the Envoy's sign: load = PV + grid + storage)
        self.at = None  # uptime of self.w
        self.soc = self.reserve = None  # %, read about once a minute
        self.heater_first = False  # priority "heater" and the SoC allows it
        self.missing = None  # why there is no usable battery data, or None
        self.grid = None  # W, the grid's figure that adjust() last saw
        self.unseen = 0  # looks in a row whose replies showed no battery
        self.notes = []  # console lines

    # -- what the link reads ----------------------------------------------------------------

    def power(self, up, w):
        """The battery's power with this poll's grid reading (None: it could not be read)."""
        if w is not None:
            self.w, self.at = int(w), up

    def charge(self, soc, reserve):
        """SoC and reserve (adjusted_backup_soc), % (None when unknown)."""
        self.soc, self.reserve = soc, reserve
        first = self.heater_first
        if self.priority != HEATER or soc is None:
            first = False
        elif soc >= self.min_soc + (0 if first else _HYSTERESIS):
            first = True
        elif soc < self.min_soc:
            first = False
        if first != self.heater_first:
            self.heater_first = first
            self.notes.append(
                "battery: soc=%s%% min_soc=%d%%: %s first"
                % (soc, self.min_soc, HEATER if first else BATTERY)
            )

    # -- the adjusted reading ---------------------------------------------------------------

    def adjust(self, up, net):
        """The grid figure (W, + import) the rules should see instead of net."""
        x = self.allowance
        self.grid = net
        age = None if self.at is None else up - self.at
        if age is None or age > self.stale_s:
            self._missing("no battery power" if age is None else "battery power %ds old" % age)
            return net + 2 * x + MARGIN_W
        self._missing(None)
        w = self.w
        at_reserve = w <= IDLE_W and self.soc is not None and self.reserve is not None
        at_reserve = at_reserve and self.soc <= self.reserve
        if w > IDLE_W:
            return net + w + 2 * x  # discharge is import, beyond the allowance
        if at_reserve:
            return net  # the grid covers any deficit: the allowance is the grid's again
        if self.heater_first and w < -IDLE_W:
            return net + w + x  # the charging power is available to the heater
        return net + x

    def _missing(self, why):
        if why is not None and self.missing is None:
            self.notes.append(
                "battery: %s (%s); battery first with a %d W margin" % (why, self.source, MARGIN_W)
            )
        elif why is None and self.missing is not None:
            self.notes.append("battery: data again from %s" % self.source)
        self.missing = why

    def reason(self, on, reason):
        """The rules' reason in battery terms, when the battery is why the heater is off."""
        if on or reason not in _OFF_BY_EXPORT:
            return reason
        if self.missing is not None:
            return NO_DATA
        if self.w > IDLE_W:
            return DISCHARGING
        if self.w < -IDLE_W and not self.heater_first:
            return CHARGING
        return reason

    def describe(self, detail):
        """The rules' numbers, and the battery's."""
        if self.missing is not None:
            more = "battery=%s" % self.missing.replace(" ", "-")
        else:
            more = "battery_w=%d soc=%s grid_w=%d" % (self.w, _text(self.soc), self.grid)
        return "%s %s" % (detail, more) if detail else more

    def read_charge(self, buf, n):
        """SoC and reserve from the bytes of /ivp/ensemble/secctrl."""
        self.charge(*soc_reserve(buf, n))

    def status(self, up):
        """The status snapshot's battery fields."""
        fresh = self.at is not None and up - self.at <= self.stale_s
        return {
            "battery_w": self.w if fresh else None,
            "battery_soc": self.soc,
            "battery_first": HEATER if self.heater_first else BATTERY,
            "battery_problem": self.missing,
        }


def _text(v):
    return "-" if v is None else "%d" % v


# -- the link's and the Envoy client's battery code, loaded only on battery sites -------------


def read_power(e, poll, readings=None):
    """e.battery_w with this poll's reading: the storage CT's (from its own reply, or from the
    all-meters readings), or /ivp/ensemble/power's. None when it cannot be read: the grid's reading
    stands, and the policy says that the battery's is missing."""
    e.battery_w = None
    try:
        if e.storage == 0:
            path, head = poll
            r = e._get(path, head)
            e.battery_w = ensemble_power(r.raw, r.length)
        elif readings is not None:
            from firmware.envoy_json import reading

            e.battery_w = int(round(reading(readings, e.storage)[0]))
        else:
            e.battery_w = int(round(e._reading(poll, e.storage)[0]))
    except (ValueError, EnvoyError):  # a network error fails the poll, as for the grid's
        pass


def soc_reserve(buf, n):
    """secctrl -> (SoC %, reserve %), None when absent. agg_soc covers IQ and AC Batteries
    together; the reserve is adjusted_backup_soc."""
    return _pct(ep.number_after(buf, n, b'"agg_soc"')), _pct(
        ep.number_after(buf, n, b'"adjusted_backup_soc"')
    )


def _pct(v):
    return int(v) if v is not None and 0 <= v <= 100 else None


def ensemble_power(buf, n):
    """/ivp/ensemble/power -> the IQ Batteries' W (+ discharging), or None when it lists none.
    The key really is "devices:" with a colon; an empty list means no battery reports."""
    if not ep.has_items(buf, n, b'"devices:"'):
        return None
    key = b'"real_power_mw"'
    mw = count = i = 0
    while True:
        i = buf.find(key, i, n)
        if i < 0:
            break
        v = ep.number_after(buf, n, key, i)
        if v is None:
            raise ValueError("an IQ Battery's real_power_mw is not a number")
        mw += v
        count += 1
        i += len(key)
    if not count:
        raise ValueError("the IQ Batteries' power lists no real_power_mw")
    return int(round(mw / 1000))
