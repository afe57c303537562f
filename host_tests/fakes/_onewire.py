# A stand-in for the ESP32's _onewire C module (machine-level bit timing): a simulated 1-Wire bus
# with DS18B20 chips on it, at the level of bits and bytes, under micropython-lib's real onewire
# and ds18x20 drivers (tools/upy_lib). Never deployed. The chips answer the ROM commands (skip,
# match, search), start a conversion (it ends CONVERT_S later on the test's clock, `now`) and
# send their scratchpad with its CRC, as the datasheet says. Faults: a chip unplugged (no
# presence pulse), garbled bits (a CRC error), a chip that has just powered up or resets at each
# conversion (85.0 C), a data line shorted to ground (presence, then every bit 0: 0.0 C, CRC 0).
CONVERT_S = 0.75
now = [0.0]  # the time in seconds, set by the test
devices = []  # the Chips on the bus
faults = {"short": False, "garble": 0}  # garble: bytes read with a bit flipped, from now on


def crc8(data):
    crc = 0
    for byte in data:
        for _ in range(8):
            mix = (crc ^ byte) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
            byte >>= 1
    return crc


class Chip:
    def __init__(self, c=20.0, serial=b"\x5e\x01\x02\x03\x04\x05"):
        head = b"\x28" + serial
        self.rom = head + bytes([crc8(head)])
        self.c = c  # the water around it
        self.resets = False  # a weak supply: it resets at every conversion
        self.power_on()

    def power_on(self):
        self.raw = 0x0550  # 85.0 C, what it holds until its first conversion ends
        self.until = None

    def convert(self):
        if self.resets:
            self.power_on()
        else:
            self.until = now[0] + CONVERT_S

    def scratchpad(self):
        if self.until is not None and now[0] >= self.until:
            self.raw = int(round(self.c * 16)) & 0xFFFF
            self.until = None
        pad = bytes([self.raw & 0xFF, self.raw >> 8, 0x4B, 0x46, 0x7F, 0xFF, 0x0C, 0x10])
        return pad + bytes([crc8(pad)])


_bus = {"mode": None, "chosen": [], "out": [], "rom": [], "bit": 0}


def reset(pin):
    _bus.update(mode="rom", chosen=[], out=[], rom=[])
    return faults["short"] or bool(devices)


def _and(values, idle):
    v = idle
    for x in values:
        v &= x
    return v


def writebyte(pin, value):
    mode = _bus["mode"]
    if mode == "rom":
        if value == 0xCC:  # skip ROM: every chip listens
            _bus.update(mode="function", chosen=list(devices))
        elif value == 0x55:  # match ROM: 8 bytes follow
            _bus["mode"] = "match"
        elif value == 0xF0:  # search ROM: bit by bit
            _bus.update(mode="search", chosen=list(devices), bit=0, step=0)
    elif mode == "match":
        _bus["rom"].append(value)
        if len(_bus["rom"]) == 8:
            rom = bytes(_bus["rom"])
            _bus.update(mode="function", chosen=[d for d in devices if d.rom == rom])
    elif mode == "function":
        if value == 0x44:
            for d in _bus["chosen"]:
                d.convert()
        elif value == 0xBE:
            pads = [d.scratchpad() for d in _bus["chosen"]]
            _bus["out"] = [_and([p[i] for p in pads], 0xFF) for i in range(9)]
        _bus["mode"] = None


def readbyte(pin):
    if faults["short"]:
        return 0
    out = _bus["out"]
    value = out.pop(0) if out else 0xFF  # nobody drives the line: the pull-up's 1s
    if faults["garble"]:
        faults["garble"] -= 1
        value ^= 0x10
    return value


def _rom_bit(d, i):
    return d.rom[i // 8] >> (i % 8) & 1


def readbit(pin):
    # Search ROM: each bit is read twice (the bit, then its complement), then written.
    if faults["short"]:
        return 0
    if _bus["mode"] != "search":
        return 1
    i, second = _bus["bit"], _bus["step"] == 1
    _bus["step"] += 1
    return _and([_rom_bit(d, i) ^ second for d in _bus["chosen"]], 1)


def writebit(pin, value):
    if _bus["mode"] == "search":
        i = _bus["bit"]
        _bus["chosen"] = [d for d in _bus["chosen"] if _rom_bit(d, i) == value]
        _bus["bit"], _bus["step"] = i + 1, 0
