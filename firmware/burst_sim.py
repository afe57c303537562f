# The simulated board's zero-cross SSR driver (board_sim.py), loaded only in burst mode.
import time

from firmware import board_sim as sim


def world():
    # The simulated world's time (Unix seconds, float): what the simulated Envoy counts in.
    if sim.VIRTUAL:
        return sim._START + sim._BASE + sim._virtual[0]
    return sim._START + (time.time() - sim._ANCHOR) * sim.SPEED


class SimBurst:
    """The simulated zero-cross SSR driver: a chunk "plays" for its length in world time and
    the simulated house stops drawing at its end unless the next chunk came (the lease)."""

    on_level, off_level = 1, 0

    def __init__(self, board, hz):
        self.board, self.hz = board, hz
        self.playing = False

    def play(self, levels):
        if not self.playing:
            print("board: burst on GPIO%d started" % self.board.relay_pin)
        self.playing = True
        b = self.board
        b.relay_on = True
        end = world() + len(levels) / self.hz
        sim._tell("relay", "%.3f %.3f" % (sum(levels) / len(levels), end))

    def off(self):
        if self.playing:
            print("board: burst on GPIO%d stopped" % self.board.relay_pin)
            sim._tell("relay", "0")
        self.playing = self.board.relay_on = False
