"""The simulated Envoy and Enlighten/Entrez: one implementation for the tests, the demo, the fault
tests and `python -m tools.sim`. CPython, real TLS on 127.0.0.1, HTTP/1.1 keep-alive.

    envoy.py    SimEnvoy: a captured Envoy served as it served its replies; the tokens it accepts
    cloud.py    SimCloud: Enlighten's login.json and Entrez's /tokens, issuing those tokens
    server.py   the HTTP/TLS plumbing under both (and the release server)
    clock.py    SimClock: the time the simulator and the simulated board share
    here        Simulation: the two together on one clock; __main__.py the command

The rest of the folder is what runs against them: certs (the test CA), faults, trickle, broker,
release_server.

    python -m tools.sim [--folder NAME]   # run both on 127.0.0.1 until Ctrl-C (make sim)
"""

import os
from collections.abc import Callable

from tools.sim import certs
from tools.sim.clock import SimClock
from tools.sim.cloud import SimCloud
from tools.sim.envoy import (  # noqa: F401 (the names the tests and tools import from tools.sim)
    DEMO_FOLDER,
    FIXTURES,
    Authority,
    SimBattery,
    SimEnvoy,
    captured_endpoints,
    endpoint_file,
    make_jwt,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Short delays for tests: seconds instead of the field defaults' minutes.
TEST_CONTROL = {
    "poll_s": 1,
    "start_delay_s": 5,
    "stop_delay_s": 5,
    "min_on_s": 10,
    "min_off_s": 10,
    "stale_s": 10,
}


class Simulation:
    """The Envoy and the cloud together, sharing a clock and the token authority."""

    def __init__(
        self,
        folder: str = DEMO_FOLDER,
        pki_dir: str | None = None,
        speed: float = 1.0,
        start: float | None = None,
        virtual: bool = False,
    ) -> None:
        pki_dir = pki_dir or os.path.join(ROOT, "build", "pki")
        self.clock = SimClock(speed, start, virtual)
        self.authority = Authority(self.clock)
        self.pki = certs.make(pki_dir)
        self.envoy = SimEnvoy(folder, self.pki, self.clock, self.authority)
        self.cloud = SimCloud(self.pki, self.clock, self.authority)

    def start(self) -> "Simulation":
        self.envoy.start()
        self.cloud.start()
        return self

    relay_file: str | None = None  # the simulated board writes its relay state here ("1" or "0")

    def relay_on(self) -> float:
        """The heater's share of its full power now: 1.0 or 0.0 for a relay; for a burst output
        the share of the chunk in play, 0.0 once the chunk has ended (its lease, board_sim)."""
        if self.relay_file is None:
            return 0.0  # no board
        try:
            with open(self.relay_file) as f:
                text = f.read().split()
        except (OSError, TypeError):
            return 0.0
        try:
            share = float(text[0])
            if len(text) > 1 and self.clock.now() > float(text[1]) + 0.01:
                return 0.0  # not renewed in time
        except (IndexError, ValueError):
            return 0.0
        return share

    def steady(
        self, pv_w: float, house_net_w: float, heater_w: float = 2000.0
    ) -> Callable[[float], tuple[float, float]]:
        """A live function: constant PV and house, plus the heater while the relay is on."""
        return lambda t: (pv_w, house_net_w + (heater_w if self.relay_on() else 0.0))

    def stop(self) -> None:
        self.envoy.stop()
        self.cloud.stop()

    def config(self, **overrides: dict) -> dict:
        """A config.json for the firmware against this simulation; sections can be overridden."""
        cfg: dict[str, dict] = {
            "wifi": {"ssid": "simulated", "password": ""},
            "enlighten": {
                "email": self.cloud.email,
                "password": self.cloud.password,
                "login_url": self.cloud.login_url,
                "token_url": self.cloud.token_url,
                "ca_file": self.pki["ca_der"],
            },
            "envoy": {"host": self.envoy.host, "pin": "tofu"},
            "heater": {"power_w": 2000, "relay_pin": 23, "active_high": True},
            "control": dict(TEST_CONTROL),
            "clock": {"utc_offset_min": 0, "dst": "none"},
        }
        for section, values in overrides.items():
            cfg.setdefault(section, {}).update(values)
        return cfg
