# Fixtures for the integration tests: the simulated Envoy and cloud on 127.0.0.1 with real TLS.
import os

import pytest

from tools.sim import SimEnvoy, Simulation, certs, make_jwt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("pki"))
    certs.make(folder)
    return folder


@pytest.fixture
def sim(pki_dir, tmp_path, monkeypatch, request):
    """A running simulation; the test runs in an empty folder (the board's flash). A test module
    may set SIM_SPEED to run the simulated clock (and the simulated board's) faster."""
    monkeypatch.chdir(tmp_path)
    s = Simulation(pki_dir=pki_dir, speed=getattr(request.module, "SIM_SPEED", 1.0)).start()
    yield s
    s.stop()


@pytest.fixture
def envoy_for(sim):
    """Start another simulated Envoy serving a fixture folder (the sim's clock and tokens)."""
    started = []

    def start(folder):
        e = SimEnvoy(folder, sim.pki, sim.clock, sim.authority).start()
        started.append(e)
        return e

    yield start
    for e in started:
        e.stop()


def token_for(sim_envoy, sim, role="owner", lifetime_s=365 * 86400):
    t = make_jwt(sim_envoy.serial, "owner@example.com", sim.clock.now(), lifetime_s, role)
    sim.authority.add(t)
    return t


@pytest.fixture
def board(sim, tmp_path):
    """start(config=None, heapsize=None) runs main.py under micropython in tmp_path/board."""
    from tools.board.hostboard import HostBoard, lay_out

    folder = tmp_path / "board"
    simdir = tmp_path / "simdir"
    simdir.mkdir()
    sim.relay_file = str(simdir / "relay")
    running = []

    def start(config=None, heapsize=None, fresh=True):
        if fresh or not folder.exists():
            lay_out(str(folder), config if config is not None else sim.config())
        b = HostBoard(str(folder), sim.clock.env(str(simdir)), heapsize=heapsize)
        b.dir = folder
        b.simdir = simdir
        running.append(b)
        return b

    yield start
    for b in running:
        b.kill()
