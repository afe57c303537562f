# The diverter's loop. Each pass:
#   link.poll()     keeps Wi-Fi, clock, token and Envoy session alive -> a Reading, or a Problem
#   policy.decide() turns the reading, the time and the overrides -> a Decision (power, reason)
#   output.apply()  is the one path to the heater; accounting counts; reports tell the console
# The loop never exits on an exception: it logs it, switches the heater OFF, retries (back-off).
import gc

from firmware import VERSION, clock, console, reports
from firmware.accounting import Accounting
from firmware.compat import const, mem_alloc, print_exception, unload
from firmware.link import Link
from firmware.output import Output
from firmware.policy import Policy

# covers the slowest step: a reconnection (a TLS handshake, about a second)
_WATCHDOG_S = const(120)
_SUMMARY_S = const(60)
_SAVE_S = const(3600)
# The ESP32's floats have 32 bits: an uptime in seconds past 2**22 (48 days) moves in steps of
# half a second, past 2**24 (194 days) of two, and the polls and the stale-data rule with it. A
# restart with the heater off each month keeps it within a quarter of a second.
_UPTIME_MAX_S = const(30 * 86400)
ERROR = "internal-error"
STOPPED = "stopped"
MEMORY_STREAK = 3  # passes in a row out of memory: only a restart defragments the heap


class Diverter:
    def __init__(self, cfg, board, link=None, mqtt=None):
        """link: the link.Link that startup.py connected at boot, or a new one. mqtt: the
        mqtt.Mqtt that startup.py connected at boot, or None (a new one when configured)."""
        self.cfg = cfg
        self.board = board
        c = cfg["control"]
        up = board.uptime()
        self.poll_s = c["poll_s"]
        h = cfg["heater"]
        self.accounting = acc = Accounting(h["power_w"], c["stale_s"], up)
        self.link = link or Link(cfg, board)
        if h.get("output") == "burst":  # a zero-cross SSR: its modules only then
            from firmware.burst import Control as Burst
            from firmware.burst_out import BurstOutput

            rules = Burst(c, up)
            self.output = BurstOutput(board, rules, acc.heater, acc, h, c["poll_s"], self.link)
        else:
            from firmware.control import Control

            rules = Control(c, up)
            self.output = Output(board, rules, acc.heater, acc)
        self.tank = None
        t = cfg.get("tank")
        if t and t["pin"] >= 0:  # a temperature sensor: its modules only then
            from firmware.tank import Tank

            self.tank = Tank(t, board.tank_sensor(t["pin"]), up)
        acc.tank = self.tank
        self.policy = Policy(rules, _boost(cfg["boost"]), self.tank)
        self.kept = {}  # settings changed at run time, kept on flash (settings.py)
        self.kept_dirty = False
        self._restore()
        acc.reading = self.link.reading
        acc.output = self.output
        self.output.off("boot")  # the pin was claimed OFF; this is the output path's start
        self.reset_cause = board.reset_cause()
        self.next_words = 0  # when the last words may be written again (flash wears)
        self.next_minute = 0
        self.next_summary = up + _SUMMARY_S
        self.next_save = up + _SAVE_S
        console.set_clock(self._clock_text, board.uptime)
        self.watch = None  # update_watch.watch(): a version on trial, the next look
        self.asked = None  # a restart asked for within a pass (an MQTT command): why
        m = cfg.get("mqtt")
        if mqtt is None and m and m["host"]:  # no MQTT module in memory unless configured
            from firmware.mqtt import Mqtt

            mqtt = Mqtt(cfg, board, self.link)
        if mqtt is not None:
            mqtt.d = self
            mqtt.on_min = self.kept.get("on_min", 60)  # how long mode "on" forces the heater
        self.mqtt = mqtt

    def _clock_text(self):
        local = self.link.local()
        return None if local is None else clock.hms(local)

    # -- one pass --------------------------------------------------------------------------------

    def step(self):
        up = self.board.uptime()
        link = self.link
        was_set = link.clock_ok
        self.accounting.observe(up, link.poll(up, self.output.power > 0))
        if link.tokens.restart:
            self.restart_to_log_in(link.tokens.restart)
        if link.clock_ok and not was_set:
            self.next_minute = 0  # the day and the token's days, now that the date is known
        if self.tank:
            self.tank.poll(up, self.accounting.heater)
        m = self.mqtt
        if m:
            m.receive(up)  # commands first, so that they count in this pass's decision
            if self.asked:
                self.restart_for_update(self.asked)
        # The data's age is judged at the decision, not at the pass's start: whatever came
        # before it took (a slow Envoy, MQTT), stale data is OFF now.
        self.act(self.board.uptime())
        if up >= self.next_minute:
            self._minute(up)
        if m:
            m.send(up)

    def act(self, up):
        """Count, decide from what the link knows, and switch through the one output path."""
        link, policy, acc, out = self.link, self.policy, self.accounting, self.output
        acc.tick(up)  # the energy so far, before the boost asks how much went in
        local = link.local() if policy.boost or policy.tank else None
        d = policy.decide(
            up, link.reading, out.power > 0, acc.heater, local, acc.energy, link.why()
        )
        while policy.notes:
            console.log(policy.notes.pop(0))
        acc.boost = policy.boost if policy.boosting else None
        out.apply(d, link.reading.house_w)
        return d

    def _minute(self, up):
        # Work that needs a minute's resolution, not a poll's.
        self.next_minute = up + 60
        if up >= _UPTIME_MAX_S and not self.output.power:
            console.log(
                "restarting: %d days up, with the heater off (a fresh uptime)" % (up // 86400)
            )
            self._restart()
            return
        if self.kept_dirty:
            self.save_settings()
        if console.unsaved and up >= self.next_words:
            self.keep_last_words(up)
        local = self.link.local()
        if local is not None:
            day = clock.day_number(local)
            self.accounting.new_day(day)
            line = self.link.tokens.days_line(day)
            if line:
                console.log(line)
        w = self.watch
        if w and (w[0] is not None or (w[1] is not None and up >= w[1])):  # update_watch.due
            from firmware import update_watch

            update_watch.minute(w, self, up)
            unload("firmware.update_watch")
        if up >= self.next_save:
            self.next_save = up + _SAVE_S
            self.accounting.save()
            gc.collect()
            console.log(reports.health(self.status()))
        if up >= self.next_summary:
            self.next_summary = up + _SUMMARY_S
            console.log(reports.summary(self.status()))

    def restart_for_memory(self, why):
        """A heap too full or too fragmented to go on: a restart gives a fresh one (the heater
        is OFF meanwhile)."""
        console.problem("restarting: %s (a fresh heap has room)" % why)
        self._restart()

    def _restart(self):
        try:
            self.stop()  # may itself run out of memory: the reset comes all the same
        finally:
            self.board.reset()

    def keep_last_words(self, up):
        """The recent problem lines to flash (lastwords.py), to be read after a reset."""
        from firmware import lastwords

        lastwords.keep(self.reset_cause)
        self.next_words = up + lastwords.WRITE_EVERY_S
        unload("firmware.lastwords")

    def loop(self):
        self.board.wdt_start(_WATCHDOG_S)
        pause = short = 0
        while True:
            started = self.board.uptime()
            try:
                self.step()
                pause = short = 0
            except MemoryError:
                self.fail("out of memory")
                pause = 5
                short += 1
                if short >= MEMORY_STREAK:
                    self.restart_for_memory("out of memory %d times in a row" % short)
            except Exception as e:
                print_exception(e)
                self.fail("%s: %s" % (type(e).__name__, e))
                pause = min(60, pause * 2 or 1)
            self.board.wdt_feed()
            gc.collect()
            spent = self.board.uptime() - started
            self.board.sleep_ms(max(0, (self.poll_s + pause - spent) * 1000))

    def fail(self, what):
        """An internal error: the heater OFF first (memory may be what ran out), then a fresh
        start of the Envoy session."""
        self.output.off(ERROR)
        self.link.reading.fresh_at = None
        self.link.restart()
        console.problem("error: %s; relay=off reason=%s, retrying" % (what, ERROR))

    def stop(self):
        """The heater OFF, the Envoy connection closed, the energy counters saved."""
        self.output.off(STOPPED)
        self.link.envoy.close()
        if self.mqtt:
            self.mqtt.close()  # "offline": nothing controls the heater now
        self.accounting.save()

    # -- settings kept across restarts (settings.py; their changes and saving: diverter_ask.py) --

    def _defaults(self):
        c = self.cfg
        return {
            "max_import_w": c["control"]["max_import_w"],
            "boost_kwh": c["boost"]["min_kwh"],
            "on_min": 60,
        }

    def _restore(self):
        # At boot, when the heap is fullest: resident, so that only settings.py loads for it.
        from firmware import settings

        self.kept = kept = settings.load(self._defaults())
        unload("firmware.settings")
        rules, boost = self.policy.rules, self.policy.boost
        if "max_import_w" in kept and hasattr(rules, "max_import"):
            rules.max_import = kept["max_import_w"]
        if "boost_kwh" in kept and boost is not None:
            boost.retarget(kept["boost_kwh"] * 1000)
        if kept:
            console.log(
                "settings: kept from before the restart: %s"
                % " ".join("%s=%s" % kv for kv in sorted(kept.items()))
            )

    # -- what a person or a program may ask: diverter_ask.py, loaded for it ----------------------

    def __getattr__(self, name):
        # Only for names the instance and the class lack: the rare work's functions, each bound
        # to this Diverter for its call (d.force_on(30) is diverter_ask.force_on(d, 30)).
        if name.startswith("_"):
            raise AttributeError(name)
        from firmware import diverter_ask

        try:
            f = getattr(diverter_ask, name)
        finally:
            unload("firmware.diverter_ask")
        return lambda *args: f(self, *args)

    def status(self):
        """A snapshot of everything worth showing: the console summary, diag.status() and MQTT
        render it."""
        up = self.board.uptime()
        r, h, e, p = self.link.reading, self.accounting.heater, self.accounting.energy, self.policy
        age = r.age(up)
        s = {
            "relay": "on" if self.output.power else "off",
            "power": self.output.power,
            "output": "burst" if self.output.burst else "relay",
            "heating_w": 0 if h.drawing is False else int(h.power_w * self.output.power),
            "reason": self.output.reason,
            "net_w": None if age is None else r.net_w,
            # The data's real age, growing while the Envoy is down (None: never any data).
            "age_s": None if r.last_at is None else int(up - r.last_at),
            "heater_w": h.power_w,
            "heater": {True: "heating", False: "tank-hot", None: "unknown"}[h.drawing],
            "today_kwh": e.shown(e.today_wh),
            "today_grid_kwh": e.shown(e.today_grid_wh),
            "total_kwh": e.shown(e.today_wh, e.before_wh),
            "total_grid_kwh": e.shown(e.today_grid_wh, e.before_grid_wh),
            "token_days": self.link.tokens.days_left(),
            "mode": p.mode,
            "mode_left_min": p.minutes_left(up),
            "boost_to_go_kwh": p.boost.remaining_wh / 1000 if p.boosting else None,
            "boost_kwh": None if p.boost is None else p.boost.target_wh / 1000,
            "max_import_w": getattr(p.rules, "max_import", None),  # None: burst has no allowance
            "problem": self.link.problem.text if self.link.problem else None,
            "notice": self.link.envoy.notice,  # the last event worth telling (a re-pin)
            "uptime_s": int(up),
            "version": VERSION,
            "reset_cause": self.reset_cause,
            "heap_used": mem_alloc(),
            "heap_free": gc.mem_free() if hasattr(gc, "mem_free") else -1,
            "envoy_handshakes": self.link.envoy.handshakes(),
            "poll_alloc": self.link.poll_alloc,
            "lag_s": None,  # measured in burst mode only (burst.Control.status())
            "update_s": None,  # (in the literal: keys added later would grow the dict)
            "burst_mode": None,
            "tank_c": None,
        }
        if self.output.burst:  # lag_s, lag_step_s, lag_stamp_s, update_s, lag_junk ...
            s.update(p.rules.status())
        if self.tank:  # tank_c, tank_sensor, tank_problem
            s.update(self.tank.status())
        if r.battery is not None:  # battery_w, battery_soc, battery_first, battery_problem
            s.update(r.battery.status(up))
        return s


def _boost(b):
    if not b["window"]:  # with a window but no min_kwh, MQTT can set a target later
        return None
    from firmware.boost import Boost
    from firmware.clock_text import parse_window

    try:
        return Boost(b["min_kwh"], parse_window(b["window"]))
    finally:
        unload("firmware.clock_text")
