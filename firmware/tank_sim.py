from firmware.compat import const

# The simulated board's DS18B20 (board_sim.tank_sensor), with the API of micropython-lib's
# ds18x20.DS18X20 that firmware/tank.py uses. Loaded only with tank.pin set; never on an ESP32.
# It reads <sim folder>/tank, which tests and tools write: a temperature ("52.5"), "missing" (no
# device answers: scan() finds none, the bus reset raises OneWireError) or "crc" (every read
# fails its CRC check). No file: 50.0. As on the chip, a read gets the last finished conversion
# (85.0 after power-up), and a conversion takes 750 ms of the board's time.


class OneWireError(Exception):  # onewire.OneWireError
    pass


ROM = b"\x28\x5e\x01\x02\x03\x04\x05\xa0"
CONVERT_S = 0.75
_NO_FILE = const("50.0")


class SimProbe:
    def __init__(self, board, folder):
        self.board = board
        self.folder = folder
        self.scratch = 85.0  # the power-on value
        self.pending = None  # (uptime at which the conversion ends, what it will read)

    def _told(self):
        try:
            with open(self.folder + "/tank") as f:
                return f.read().strip()
        except (OSError, TypeError):
            return _NO_FILE

    def _bus(self):
        told = self._told()
        if told == "missing":
            raise OneWireError()
        return told

    def _finish(self):
        p = self.pending
        if p is not None and self.board.uptime() >= p[0]:
            self.pending = None
            try:
                self.scratch = float(p[1])
            except ValueError:
                pass  # "crc": the chip converted, the bus garbles it

    def scan(self):
        return [] if self._told() == "missing" else [ROM]

    def convert_temp(self):
        told = self._bus()
        self._finish()
        self.pending = (self.board.uptime() + CONVERT_S, told)

    def read_temp(self, rom):
        if self._bus() == "crc":
            raise Exception("CRC error")
        self._finish()
        return self.scratch
