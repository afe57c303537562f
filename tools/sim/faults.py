"""Fault injection: the real firmware (main.py under `micropython -X heapsize=...`) against the
simulated Envoy and cloud, one fault at a time.

    python -m tools.sim.faults [--heapsize 64K] [--only NAME] [--echo]

For each fault: start with the relay on (sun to spare), inject the fault, measure the simulated
seconds until the relay is OFF and the reason it gives, hold the fault, clear it, and measure
the seconds until the firmware is back on its own. Then the files on "flash" (token.json,
state.json, cloud.json, envoy_pin.json) must still be valid. The tests in
host_tests/integration/test_faults.py run the same scenarios and assert on them; this command
prints the table for the README.
"""

import argparse
import json
import os
import resource
import signal
import sys
import tempfile
import time

from firmware import jwt
from tools.board.hostboard import HostBoard, lay_out
from tools.sim import ROOT, TEST_CONTROL, Simulation

FILES = ("token.json", "state.json", "cloud.json", "envoy_pin.json")
HEAP = "160K"  # the smallest that passes on the 64-bit unix port (see tools/bench/soak.py)


class Run:
    """One scenario's world: the simulation, the board folder and the running firmware."""

    def __init__(self, sim, folder, simdir, heapsize=HEAP, echo=False, preexec_fn=None):
        self.sim, self.folder, self.simdir = sim, folder, simdir
        self.board = None
        self._boot = (heapsize, echo, preexec_fn)

    def boot(self):
        """Start the firmware (again) in the board folder."""
        heapsize, echo, preexec_fn = self._boot
        self.board = HostBoard(
            self.folder,
            self.sim.clock.env(self.simdir),
            heapsize=heapsize,
            echo=echo,
            preexec_fn=preexec_fn,
        )

    def now(self):
        return self.sim.clock.now()

    def arrival(self, i):
        c = self.sim.clock
        return c.start + (self.board.times[i] - c.anchor) * c.speed

    def line_time(self, i):
        """Simulated time of console line i: its own HH:MM:SS stamp (when the firmware acted,
        in UTC here) when it has one, else when it reached the host."""
        arrived = self.arrival(i)
        stamp = self.board.lines[i][:8]
        if (
            len(stamp) < 8
            or stamp[2] != ":"
            or stamp[5] != ":"
            or not stamp.replace(":", "").isdigit()
        ):
            return arrived
        t = (
            arrived
            - arrived % 86400
            + int(stamp[:2]) * 3600
            + int(stamp[3:5]) * 60
            + int(stamp[6:])
        )
        return t - 86400 if t - arrived > 43200 else t + 86400 if arrived - t > 43200 else t

    def sleep_sim(self, seconds):
        time.sleep(seconds / self.sim.clock.speed)

    def flag(self, name, on):
        path = os.path.join(self.simdir, name)
        if on:
            open(path, "w").close()
        elif os.path.exists(path):
            os.remove(path)

    def wait_line(self, text, after_time, timeout_sim):
        """The first console line containing text that arrived after after_time (simulated)."""
        deadline = time.time() + max(2.0, timeout_sim / self.sim.clock.speed)
        while time.time() < deadline:
            for i in range(len(self.board.lines)):
                line = self.board.lines[i]
                if text in line and " summary " not in line and self.arrival(i) >= after_time:
                    return i
            if not self.board.running():
                break
            time.sleep(0.02)
        raise AssertionError(
            "no console line with %r in %.0f simulated s; console:\n%s"
            % (text, timeout_sim, "\n".join(self.board.lines[-30:]))
        )

    def file_checks(self):
        """What survived on flash: each file is absent or valid; token.json holds a JWT."""
        kept = []
        for name in FILES:
            path = os.path.join(self.folder, name)
            if not os.path.exists(path):
                continue
            with open(path) as f:
                data = json.load(f)  # raises if damaged
            if name == "token.json":
                jwt.decode(data["token"])
            kept.append(name.split(".")[0])
        return kept


class Scenario:
    name = ""
    what = ""
    speed = 20
    # the reason on the relay=off line; None: the relay must stay as it is
    reason: str | None = "envoy-down"
    words = ""  # a console line must contain these
    hold_s = 60  # simulated seconds the fault lasts
    recovery = "relay=on"
    live = (3000.0, -2600.0)  # PV and house net: export covers the heater
    # what follows the relay=off line, said by `words` (the table gives its time)
    then: str | None = None
    # the "relay OFF after" cell when reason is None (None: the data keeps coming)
    safe: str | None = None
    kept: tuple[str, ...] = ("token", "state")  # files that must be on flash, valid, at the end
    flash_full = False  # True: every write to the board's files fails, from boot on

    def setup(self, r):
        """Before boot."""

    def configure(self, r, cfg):
        """The board's config.json."""
        return cfg

    def teardown(self, r):
        """After the run, pass or fail."""

    def inject(self, r):
        raise NotImplementedError

    def clear(self, r):
        raise NotImplementedError


class EnvoyDown(Scenario):
    name, what, speed, hold_s = "envoy-down", "the Envoy down for 10 minutes", 120, 600
    words = "envoy: connection refused"

    def inject(self, r):
        r.sim.envoy.stop()

    def clear(self, r):
        r.sim.envoy.start()


class EnvoyReboot(Scenario):
    name, what, hold_s = (
        "envoy-reboot",
        "an Envoy reboot: 503, then refused, then a new session",
        90,
    )
    words = "503"

    def inject(self, r):
        r.sim.envoy.fault = "503"
        r.sleep_sim(30)
        r.sim.envoy.reboot()  # stops listening, forgets the sessions
        r.sim.envoy.fault = None
        self.checks_before = sum(1 for q in r.sim.envoy.requests if q[1] == "/auth/check_jwt")

    def clear(self, r):
        r.sim.envoy.start()

    def verify(self, r):
        after = sum(1 for q in r.sim.envoy.requests if q[1] == "/auth/check_jwt")
        assert after > self.checks_before, "no new check_jwt session after the reboot"


class TokenRevoked(Scenario):
    name, what = "token-revoked", "a 401 mid-run (token revoked)"
    reason, words, hold_s = "no-token", "the token was refused", 0

    def inject(self, r):
        r.sim.authority.revoke_all()

    def clear(self, r):
        pass  # the firmware gets a new token by itself

    def verify(self, r):
        assert r.sim.cloud.logins == 2, "expected exactly one new login, saw %d" % (
            r.sim.cloud.logins - 1
        )


class EnvoyFault(Scenario):
    def __init__(self, fault, what, words, reason="envoy-down"):
        self.fault, self.name, self.what, self.words = fault, "envoy-" + fault, what, words
        self.reason = reason

    def inject(self, r):
        r.sim.envoy.fault = self.fault

    def clear(self, r):
        r.sim.envoy.fault = None


class Slow(Scenario):
    name, what, words = "envoy-slow", "replies slower than the timeout", "timed out"

    def inject(self, r):
        r.sim.envoy.slow_s = 3.0  # host seconds: far beyond the firmware's timeout here

    def clear(self, r):
        r.sim.envoy.slow_s = 0


class Frozen(Scenario):
    name, what, reason, words = (
        "meter-frozen",
        "the meter's timestamp stops moving",
        "stale",
        "reason=stale",
    )

    def inject(self, r):
        r.sim.envoy.frozen_at = int(r.now())

    def clear(self, r):
        r.sim.envoy.frozen_at = None


class CertChanged(Scenario):
    name, what, speed = "cert-changed", "the Envoy's certificate changes under tofu", 60
    reason, words, hold_s = "pin-mismatch", "certificate changed", 60

    def inject(self, r):
        self.requests_before = len(r.sim.envoy.requests)
        r.sim.envoy.swap_cert("envoy2")

    def clear(self, r):
        self.requests_during = len(r.sim.envoy.requests) - self.requests_before
        r.sim.envoy.swap_cert("envoy")

    def verify(self, r):
        # Only /info reached the other certificate (to tell a firmware update), nothing secret.
        asked = [q for q in r.sim.envoy.served if q[0] == "envoy2"]
        assert all(q[2] == "/info" and not (q[3] or q[4]) for q in asked), asked


class CloudAtRenewal(Scenario):
    """The token is due for renewal while the cloud fails: the old token must keep working."""

    speed, reason, hold_s, recovery = 120, None, 60, "token: new owner token"
    live = (0.0, 400.0)  # no sun: the relay stays off, so the renewal is not deferred

    def __init__(self, behaviour, what, words):
        self.behaviour, self.what, self.words = behaviour, what, words
        self.name = "cloud-" + behaviour

    def setup(self, r):
        r.sim.cloud.token_lifetime_s = 30 * 86400 + 120  # due 2 simulated minutes after boot

    def inject(self, r):
        r.sim.cloud.behaviour = self.behaviour

    def clear(self, r):
        r.sim.cloud.behaviour = None

    def verify(self, r):
        assert r.board.count("relay=off reason=no-token") == 0, "the old token stopped working"
        assert r.sim.cloud.logins <= 3, "%d logins: a retry loop" % r.sim.cloud.logins


class ClockUnset(Scenario):
    name, what, reason = "clock-unset", "the clock is not set (NTP fails) at boot", "no-token"
    words, speed, hold_s = "not logging in", 120, 60

    def setup(self, r):
        r.flag("clock_unset", True)  # from the first boot: no token yet

    def inject(self, r):
        pass

    def clear(self, r):
        r.flag("clock_unset", False)


class WifiDrop(Scenario):
    name, what, reason, words = "wifi-drop", "a Wi-Fi drop", "wifi-down", "wifi: down"

    def inject(self, r):
        r.flag("wifi_down", True)

    def clear(self, r):
        r.flag("wifi_down", False)


class FlashFull(Scenario):
    """The flash is full when the token falls due: no login happens (it could not be recorded
    on flash, and nothing else would bound logins), the old token keeps the data coming, and
    token.json stays valid. Once there is room, the renewal happens and is saved."""

    name, what, speed, reason = (
        "flash-full",
        "a full filesystem when the token falls due",
        120,
        None,
    )
    words, hold_s, recovery = "could not save cloud.json", 60, "token: new owner token"
    live = (0.0, 400.0)

    def setup(self, r):
        r.sim.cloud.token_lifetime_s = 30 * 86400 + 120  # due 2 simulated minutes after boot

    def inject(self, r):
        with open(os.path.join(r.folder, "token.json")) as f:
            self.old = json.load(f)["token"]
        resource.prlimit(r.board.proc.pid, resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))

    def clear(self, r):
        with open(os.path.join(r.folder, "token.json")) as f:
            self.during = json.load(f)["token"]
        self.issued_during = len(r.sim.cloud.issued)
        r.sim.cloud.token_lifetime_s = 365 * 86400
        resource.prlimit(r.board.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)

    def verify(self, r):
        assert self.during == self.old, "token.json changed although the write failed"
        assert self.issued_during == 1, "a login happened that could not be recorded"
        assert r.board.count("relay=off reason=no-token") == 0, "the old token stopped working"
        with open(os.path.join(r.folder, "token.json")) as f:
            assert json.load(f)["token"] == r.sim.cloud.issued[-1], "the renewal was not saved"


class Impostor(Scenario):
    """The Envoy replaced mid-run by a plain-HTTP one claiming old firmware: refused as a
    downgrade before anything secret is sent; the real Envoy is used again once it is back."""

    name, what, speed = (
        "plain-http-impostor",
        "a plain-HTTP impostor in the Envoy's place, claiming firmware 3.9.36",
        60,
    )
    # Its first effect is a failed TLS handshake (envoy-down); after ERROR_STREAK failures the
    # firmware probes /info again and finds the downgrade.
    reason, words, hold_s = "envoy-down", "claims old firmware", 150
    then = "refused as a downgrade (pin-mismatch)"

    def inject(self, r):
        from tools.sim import SimEnvoy

        e = r.sim.envoy
        e.stop()
        self.impostor = SimEnvoy("3.9.36", r.sim.pki, r.sim.clock, r.sim.authority, port=e.port)
        self.impostor.start()

    def clear(self, r):
        self.impostor.stop()
        r.sim.envoy.start()

    def teardown(self, r):
        if getattr(self, "impostor", None):
            self.impostor.stop()

    def verify(self, r):
        asked = self.impostor.requests
        assert asked, "the impostor was never asked"
        assert not [q for q in asked if q[2] or q[3]], "a secret reached the impostor: %s" % asked
        assert {q[1] for q in asked} == {"/info"}, asked
        assert r.board.count("relay=off reason=pin-mismatch"), "the reason did not follow"


class PinNotSaved(Scenario):
    """The flash is full when the certificate is first pinned: the pin holds in RAM (the console
    says so), and a TLS impostor with another certificate is refused. The token was saved before
    the flash filled up."""

    name, what, speed = (
        "pin-not-saved",
        "the flash full at the first pin, then another certificate",
        60,
    )
    reason, words, hold_s = "pin-mismatch", "certificate changed", 60
    kept, flash_full = ("token",), True

    def setup(self, r):
        from tools.sim import make_jwt

        e, clock = r.sim.envoy, r.sim.clock
        token = make_jwt(e.serial, r.sim.cloud.email, clock.now())
        r.sim.authority.add(token)
        with open(os.path.join(r.folder, "token.json"), "w") as f:
            json.dump({"token": token}, f)

    def inject(self, r):
        CertChanged.inject(self, r)

    def clear(self, r):
        CertChanged.clear(self, r)

    def verify(self, r):
        CertChanged.verify(self, r)
        assert r.board.count("could not be saved; it holds until the next reboot") == 1
        assert not r.board.count("envoy: certificate pinned"), "claimed a pin not on flash"
        assert not os.path.exists(os.path.join(r.folder, "envoy_pin.json"))


class DamagedFiles(Scenario):
    """A non-UTF-8 byte in each file on flash, found at boot: each is reported and ignored, the
    board runs (a new login replaces the token) and every file is written valid again."""

    name, what, speed = "damaged-files", "a non-UTF-8 byte in each of the four files at boot", 20
    reason, words, hold_s = None, "", 0
    safe = "OFF during the reboot"
    kept = ("token", "state", "cloud", "envoy_pin")

    def inject(self, r):
        r.board.stop(10)
        for name in FILES:
            path = os.path.join(r.folder, name)
            with open(path, "rb") as f:
                data = f.read()
            with open(path, "wb") as f:
                f.write(data[:-2] + b"\xff}")

    def clear(self, r):
        r.boot()

    def verify(self, r):
        for name in FILES:
            line = "store: %s is damaged (not UTF-8); ignoring it" % name
            assert r.board.count(line) == 1, "no %r on the console" % line
        assert not r.board.count("fatal"), "a fatal error"
        assert r.sim.cloud.logins == 2, "%d logins: one for the damaged token expected" % (
            r.sim.cloud.logins - 1
        )


class Trickle(Scenario):
    """The Envoy (or the link) trickles its replies a byte every simulated second: each request
    ends at its deadline, so the relay is OFF within stale_s plus one poll."""

    name, what = "envoy-trickle", "a trickling Envoy: a byte a second, without end"
    words = "timed out"

    def configure(self, r, cfg):
        from tools.sim.trickle import TrickleProxy

        self.proxy = TrickleProxy(r.sim.envoy.port, pace_s=0).start()
        cfg["envoy"]["host"] = "127.0.0.1:%d" % self.proxy.port
        return cfg

    def inject(self, r):
        self.proxy.pace_s = 1.0 / r.sim.clock.speed

    def clear(self, r):
        self.proxy.pace_s = 0

    def teardown(self, r):
        self.proxy.stop()


class FirmwareUpdate(Scenario):
    """An Enphase firmware push (as on D8.3.5528): the Envoy restarts with a new certificate and
    newer firmware. The board refuses the certificate, asks /info only, sees the same serial on
    newer firmware, re-pins and carries on: no login, no REPL."""

    name, what, speed = (
        "firmware-update",
        "an Envoy firmware update with a new certificate (D8.2.4345 -> D8.3.5528)",
        60,
    )
    reason, words, hold_s = "pin-mismatch", "re-pinned: firmware", 0
    then = "re-pinned by itself"

    def inject(self, r):
        self.requests_before = len(r.sim.envoy.requests)
        r.sim.envoy.update_firmware("D8.3.5528")

    def clear(self, r):
        pass  # nothing to undo: the board must get over it by itself

    def verify(self, r):
        # The new certificate got /info first, and a secret only after the re-pin that follows.
        asked = [q for q in r.sim.envoy.served if q[0] == "envoy2"]
        first_secret = next(i for i, q in enumerate(asked) if q[3] or q[4])
        assert first_secret and {q[2] for q in asked[:first_secret]} == {"/info"}, asked[:5]
        assert r.sim.cloud.logins == 1, "a cloud login for a re-pin"


class NightSilence(Scenario):
    """About 11 pm: the Envoy says nothing for six minutes, then refuses the token for a minute
    while it starts (sessions forgotten). OFF on stale data, and nothing else: no cloud login,
    no restart."""

    name, what, speed = (
        "night-silence",
        "the Envoy silent for 6 minutes at night, then refusing the token for a minute",
        120,
    )
    reason, words, hold_s = "envoy-down", "connection refused", 60

    def inject(self, r):
        self.booted = r.board.resets  # the first login restarts once, into a fresh heap
        r.sim.envoy.stop()
        r.sleep_sim(360)
        r.sim.envoy.reboot()
        r.sim.envoy.fault = "401"
        r.sim.envoy.start()

    def clear(self, r):
        r.sim.envoy.fault = None

    def verify(self, r):
        assert r.sim.cloud.logins == 1, "%d cloud logins" % r.sim.cloud.logins
        assert r.board.resets == self.booted, "the board restarted"


class TokensGone(CloudAtRenewal):
    """Entrez's /tokens answers 400 when the token falls due: Entrez's web login gives the
    token instead, counted by the account guard as one more login."""

    recovery = "(from Entrez's web login"

    def clear(self, r):
        pass  # gone for good: the fallback must carry on

    def verify(self, r):
        CloudAtRenewal.verify(self, r)
        assert r.sim.cloud.web_logins == 1 and r.sim.cloud.logins == 3, r.sim.cloud.logins


SCENARIOS = [
    EnvoyDown(),
    EnvoyReboot(),
    TokenRevoked(),
    EnvoyFault("html", "HTML where JSON was expected", "HTML page where JSON was expected"),
    EnvoyFault("truncate", "a truncated body", "truncated body"),
    EnvoyFault("oversize", "an oversize body", "over the cap"),
    Slow(),
    Frozen(),
    CertChanged(),
    CloudAtRenewal("5xx", "Enlighten down (503) at renewal time", "server failed (503)"),
    CloudAtRenewal(
        "bad-credentials", "Enlighten says 401 at renewal time", "wrong e-mail or password"
    ),
    CloudAtRenewal("locked", "a lockout page at renewal time", "account may be locked"),
    CloudAtRenewal("mfa", "a multi-factor reply at renewal time", "multi-factor"),
    ClockUnset(),
    WifiDrop(),
    FlashFull(),
    Impostor(),
    PinNotSaved(),
    DamagedFiles(),
    Trickle(),
    FirmwareUpdate(),
    EnvoyFault(
        "all-zero",
        "all-zero readings from the grid CT (an 8.3 firmware bug)",
        "bogus reading",
        "stale",
    ),
    NightSilence(),
    TokensGone("tokens-gone", "Entrez's /tokens gone (400) at renewal time, for good", ""),
]


def _ignore_sigxfsz():
    # A write over RLIMIT_FSIZE must fail with EFBIG, as a full flash fails, not kill the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _flash_full():
    _ignore_sigxfsz()
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))


def run(scenario, pki_dir, workdir, heapsize=HEAP, echo=False):
    """Run one scenario; returns its measurements (simulated seconds). Raises on a failure."""
    sim = Simulation(pki_dir=pki_dir, speed=scenario.speed).start()
    folder = os.path.join(workdir, scenario.name, "board")
    simdir = os.path.join(workdir, scenario.name, "sim")
    os.makedirs(simdir)
    preexec = _flash_full if scenario.flash_full else _ignore_sigxfsz
    r = Run(sim, folder, simdir, getattr(scenario, "heapsize", None) or heapsize, echo, preexec)
    sim.relay_file = os.path.join(simdir, "relay")
    sim.envoy.live = sim.steady(*scenario.live)
    try:
        os.makedirs(folder)
        scenario.setup(r)
        lay_out(folder, scenario.configure(r, sim.config()), compiled=True)
        r.boot()
        ready = "relay=on reason=surplus" if scenario.live[1] < 0 else "envoy: net power from"
        if isinstance(scenario, ClockUnset):
            ready = "clock: not set"
        r.wait_line(ready, 0, 120)
        t_fault = r.now()
        scenario.inject(r)
        result = {"name": scenario.name, "what": scenario.what}
        if scenario.words:
            i = r.wait_line(scenario.words, t_fault, 600)
            result["said_s"] = max(0.0, r.line_time(i) - t_fault)
        if isinstance(scenario, ClockUnset):
            result["off_from_boot"] = True
        elif scenario.reason:
            i = r.wait_line("relay=off reason=" + scenario.reason, t_fault, 600)
            result["safe_s"] = max(0.0, r.line_time(i) - t_fault)
        end = t_fault + scenario.hold_s
        while r.now() < end:
            time.sleep(0.05)
        t_clear = r.now()
        scenario.clear(r)
        i = r.wait_line(scenario.recovery, t_clear, 1200)
        result["recovery_s"] = r.line_time(i) - t_clear
        if hasattr(scenario, "verify"):
            scenario.verify(r)
        r.board.stop(10)  # Ctrl-C: the firmware saves its counters (state.json) on the way out
        result["kept"] = r.file_checks()
        result["logins"] = sim.cloud.logins
        result["relay_on_during_fault"] = any(
            " relay=on " in r.board.lines[i] and t_fault < r.line_time(i) < t_clear
            for i in range(len(r.board.lines))
        )
        result["watchdog"] = r.board.count("board: watchdog expired")
        return result
    finally:
        if r.board:
            r.board.kill()
        scenario.teardown(r)
        sim.stop()


def power_cuts(pki_dir, workdir, cuts=12, heapsize=HEAP, seed=1):
    """kill -9 at random moments while the firmware boots and writes its files (token, login
    record, pin), then restart: every file must stay valid and the logins must stay bounded."""
    import random

    rnd = random.Random(seed)
    sim = Simulation(pki_dir=pki_dir, speed=60).start()
    folder = os.path.join(workdir, "power-cut", "board")
    simdir = os.path.join(workdir, "power-cut", "sim")
    os.makedirs(simdir)
    r = Run(sim, folder, simdir)
    sim.relay_file = os.path.join(simdir, "relay")
    sim.envoy.live = sim.steady(3000.0, -2600.0)
    lay_out(folder, sim.config(), compiled=True)
    try:
        for _ in range(cuts):
            r.board = HostBoard(folder, sim.clock.env(simdir), heapsize=heapsize)
            time.sleep(rnd.uniform(0.05, 1.2))
            r.board.kill()
            r.file_checks()
        r.board = HostBoard(folder, sim.clock.env(simdir), heapsize=heapsize)
        t = r.now()
        r.wait_line("relay=on", 0, 1200)
        r.board.kill()
        return {
            "cuts": cuts,
            "logins": sim.cloud.logins,
            "kept": r.file_checks(),
            "recovery_s": r.line_time(r.board.find("relay=on")) - t,
        }
    finally:
        if r.board:
            r.board.kill()
        sim.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--heapsize", default=HEAP)
    p.add_argument("--only", help="run one scenario by name")
    p.add_argument("--echo", action="store_true", help="show the firmware's console")
    args = p.parse_args(argv)
    pki = os.path.join(ROOT, "build", "pki")
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for s in SCENARIOS:
            if args.only and s.name != args.only:
                continue
            res = run(s, pki, work, args.heapsize, args.echo)
            rows.append(res)
            print("%-16s ok" % s.name, flush=True)
        if not args.only or args.only == "power-cut":
            pc = power_cuts(pki, work, heapsize=args.heapsize)
    print(
        "\nUnder micropython -X heapsize=%s; times in simulated seconds (stale_s=%d, poll_s=%d):\n"
        % (args.heapsize, TEST_CONTROL["stale_s"], TEST_CONTROL["poll_s"])
    )
    print("| fault | relay OFF after | back on its own after | kept on flash |")
    print("|---|---|---|---|")
    for res in rows:
        scenario = [s for s in SCENARIOS if s.name == res["name"]][0]
        reason = scenario.reason
        if "safe_s" in res:
            safe = "%.0f s (%s)" % (res["safe_s"], reason)
            if scenario.then:
                safe += "; %s after %.0f s" % (scenario.then, res["said_s"])
        elif res.get("off_from_boot"):
            safe = "OFF from boot (%s)" % reason
        else:
            safe = scenario.safe or "unaffected: the data keeps coming"
        print(
            "| %s | %s | %.0f s | %s |"
            % (res["what"], safe, res["recovery_s"], ", ".join(res["kept"]) or "-")
        )
    if not args.only or args.only == "power-cut":
        print(
            "| power cut (kill -9) at %d random moments of boot and login | OFF (no power)"
            " | %.0f s, "
            "%d cloud login(s) in all | %s |"
            % (pc["cuts"], pc["recovery_s"], pc["logins"], ", ".join(pc["kept"]))
        )
    return 0


# -- MQTT (issue 13): the broker down, refusing the login, or gone mid-run. The relay logic must
# not notice: the data keeps coming, the relay stays on, and MQTT comes back on its own.


class MqttFault(Scenario):
    speed, reason, hold_s, recovery = 60, None, 120, "ok: recovered (mqtt)"
    # MQTT's code on top of the rest: at 160K the 64-bit binary sometimes lacks room for a
    # reconnection (the firmware reports it and retries). These rows are about behaviour; the
    # ESP32's memory with MQTT is make heap's (tools/bench/heap.py).
    heapsize = "192K"
    user: str | None = None  # what the board's config says
    password: str | None = None
    users: dict[str, str] | None = None  # what the broker accepts
    up_at_boot = True

    def __init__(self, name, what, says):
        self.name, self.what, self.says = name, what, says  # at boot: before the fault's start

    def setup(self, r):
        import atexit

        from tools.sim.broker import free_port

        self.port, self.broker = free_port(), None
        atexit.register(self._stop)  # run() has no teardown for a scenario
        m = {"host": "127.0.0.1", "port": self.port}
        if self.user:
            m.update(user=self.user, password=self.password)
        config = r.sim.config
        r.sim.config = lambda **kw: config(mqtt=m, **kw)
        if self.up_at_boot:
            self._start(self.users)

    def _start(self, users):
        from tools.sim.broker import Broker

        self.broker = Broker(users=users, port=self.port).start()

    def _stop(self):
        if self.broker:
            self.broker.stop()

    def inject(self, r):
        self.polls = len(r.sim.envoy.requests), r.now()

    def clear(self, r):
        n, t = self.polls
        self.rate = (len(r.sim.envoy.requests) - n) / ((r.now() - t) / 60)
        self._stop()
        self._start(None)

    def verify(self, r):
        self._stop()
        assert r.board.count("relay=off") == 0, "the relay logic stumbled over MQTT"
        assert self.rate >= 50, "%.0f Envoy polls per simulated minute" % self.rate
        lines = [x for x in r.board.lines if "mqtt: 127.0.0.1:" in x]
        assert 1 <= len(lines) <= 3, "a problem line for each retry, not each change: %s" % lines
        assert r.board.count(self.says) == 1


class MqttDown(MqttFault):
    up_at_boot = False  # nothing listens on the port: refused at once


class MqttAuth(MqttFault):
    user, password, users = "ha", "not-the-broker-s", {"ha": "another"}

    def verify(self, r):
        MqttFault.verify(self, r)
        assert self.password not in r.board.output(), "the MQTT password reached the console"


class MqttGone(MqttFault):
    recovery = "mqtt: connected"

    def __init__(self, name, what, says):
        MqttFault.__init__(self, name, what, says)
        self.words = says

    def inject(self, r):
        r.wait_line("mqtt: connected", 0, 60)
        MqttFault.inject(self, r)
        self._stop()  # the broker goes away under an open connection


class MqttTrickle(Scenario):
    """A broker that trickles small packets for ever (tools/sim/trickle.py), then the meter
    freezes: the relay must go OFF on stale data as without MQTT, and the Envoy polls keep
    their rate (measured while the fault is held: a frozen meter still answers)."""

    name, what, reason, words = (
        "mqtt-trickle",
        "an MQTT broker that trickles packets for ever, then the meter's timestamp stops",
        "stale",
        "reason=stale",
    )
    heapsize = MqttFault.heapsize

    def setup(self, r):
        import atexit

        from tools.sim.trickle import TrickleBroker

        # Each 2-byte packet whole in 4 simulated s, within a 5 s (0.25 host s) deadline.
        self.broker = TrickleBroker(pace_s=4.0 / self.speed).start()
        atexit.register(self.broker.stop)
        m = {"host": "127.0.0.1", "port": self.broker.port}
        config = r.sim.config
        r.sim.config = lambda **kw: config(mqtt=m, **kw)

    def inject(self, r):
        self.polls = len(r.sim.envoy.requests), r.now()
        r.sim.envoy.frozen_at = int(r.now())

    def clear(self, r):
        n, t = self.polls  # the Envoy still answers a frozen meter: the polls go on
        self.rate = (len(r.sim.envoy.requests) - n) / ((r.now() - t) / 60)
        r.sim.envoy.frozen_at = None

    def teardown(self, r):
        self.broker.stop()

    def verify(self, r):
        assert self.rate >= 50, "%.0f Envoy polls per simulated minute" % self.rate
        assert r.board.count("mqtt: connected") >= 1


SCENARIOS += [
    MqttDown("mqtt-down", "the MQTT broker down from boot", "connection refused; the relay logic"),
    MqttAuth("mqtt-auth", "the MQTT broker refuses the login", "the broker refused the login"),
    MqttGone("mqtt-gone", "the MQTT broker goes away mid-run", "the broker closed the connection"),
    MqttTrickle(),
]


def mqtt_poll_rates(pki_dir, workdir, minutes=3, speed=20):
    """Envoy polls per simulated minute (poll_s=1) with no MQTT, with a broker that refuses
    connections (down), with one that accepts TCP but never answers (each try waits out
    the connection timeout), and with one that trickles small packets for ever, each byte in
    time for a per-packet deadline (tools/sim/trickle.py): {"none": .., "down": .., "silent": ..,
    "trickle": ..}."""
    import socket

    from tools.sim.broker import free_port
    from tools.sim.trickle import TrickleBroker

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # the kernel completes the handshakes; nobody ever reads
    trickle = TrickleBroker(pace_s=0.8 * max(0.25, 3.0 / speed)).start()  # within a deadline
    ports = {
        "none": None,
        "down": free_port(),
        "silent": silent.getsockname()[1],
        "trickle": trickle.port,
    }
    rates = {}
    try:
        for name, port in ports.items():
            sim = Simulation(pki_dir=pki_dir, speed=speed).start()
            folder = os.path.join(workdir, "rate-" + name, "board")
            simdir = os.path.join(workdir, "rate-" + name, "sim")
            os.makedirs(simdir)
            r = Run(sim, folder, simdir)
            sim.relay_file = os.path.join(simdir, "relay")
            sim.envoy.live = sim.steady(3000.0, -2600.0)
            mqtt = {"host": "127.0.0.1", "port": port} if port else {}
            lay_out(folder, sim.config(mqtt=mqtt), compiled=True)
            try:
                r.board = HostBoard(folder, sim.clock.env(simdir), heapsize=HEAP)
                r.wait_line("relay=on", 0, 120)
                n, t = len(sim.envoy.requests), r.now()
                r.sleep_sim(minutes * 60)
                rates[name] = (len(sim.envoy.requests) - n) / ((r.now() - t) / 60)
                if name == "trickle":  # in time for every deadline: the connection stays
                    assert r.board.count("mqtt: connected") >= 1, "no MQTT connection"
                elif port:
                    assert r.board.count("mqtt: 127.0.0.1:%d" % port) >= 1, "no MQTT problem"
            finally:
                r.board.kill()
                sim.stop()
    finally:
        silent.close()
        trickle.stop()
    return rates


if __name__ == "__main__":
    sys.exit(main())
