# The demo (make simulate) tells the same story every time: the simulated board's clock is
# virtual, so decisions, console lines and totals do not depend on the machine's speed.
import re

from tools import simulate


def demo(capsys, tmp_path, name):
    simulate.main(["--from", "09:00", "--to", "13:00", "--out", str(tmp_path / name)])
    out = capsys.readouterr().out
    # Heap figures depend on the binary's allocator and ports on the host, not on the story.
    out = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", out)
    return [line for line in out.splitlines() if " health " not in line and "plot:" not in line]


def test_the_same_day_gives_the_same_story_twice(capsys, tmp_path):
    first = demo(capsys, tmp_path, "one")
    second = demo(capsys, tmp_path, "two")
    assert first == second
    story = "\n".join(first)
    assert "relay=on reason=surplus" in story
    # The heater's step is seen at its full size: the meter shows it from the first reading.
    steps = [int(m) for m in re.findall(r"heater: heating step_w=(-?\d+)", story)]
    assert steps and all(1900 <= s <= 2100 for s in steps), steps
    assert "tank hot" in story and "diverted into the tank" in story
    assert (tmp_path / "one" / "day.png").stat().st_size > 20000


def test_the_demo_with_a_burst_output(capsys, tmp_path):
    simulate.main(
        ["--output", "burst", "--from", "09:00", "--to", "10:00", "--out", str(tmp_path / "b")]
    )
    story = capsys.readouterr().out
    assert "burst=on reason=surplus duty_pct=" in story
    assert "summary net_w=" in story and " burst=on duty_pct=" in story
    assert "burst started:" in story and "0.00 from the grid" in story
    assert (tmp_path / "b" / "day.png").stat().st_size > 20000


def test_the_simulated_burst_stops_when_its_chunk_is_not_renewed(tmp_path):
    from tools.sim import Simulation

    class World:
        relay_file = str(tmp_path / "relay")

        class clock:
            t = 100.0

            @classmethod
            def now(cls):
                return cls.t

    (tmp_path / "relay").write_text("0.370 101.000")
    assert Simulation.relay_on(World) == 0.37
    World.clock.t = 101.5  # the chunk ended and no other came: the lease ran out
    assert Simulation.relay_on(World) == 0.0
    (tmp_path / "relay").write_text("1")
    assert Simulation.relay_on(World) == 1.0
