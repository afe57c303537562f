# The simulated board's zero-cross SSR driver, loaded only in burst mode. The board it is given
# (board_sim.Board) tells the simulated world and gives its time.


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
        end = b.world() + len(levels) / self.hz
        b.tell("relay", "%.3f %.3f" % (sum(levels) / len(levels), end))

    def off(self):
        if self.playing:
            print("board: burst on GPIO%d stopped" % self.board.relay_pin)
            self.board.tell("relay", "0")
        self.playing = self.board.relay_on = False
