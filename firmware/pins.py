# Which ESP32 GPIOs may drive the relay. Used by boot.py before anything else runs, so keep it
# tiny. Facts: ESP32 (not S2/S3) datasheet and the MicroPython ESP32 quickref.

FLASH = (6, 7, 8, 9, 10, 11)  # wired to the SPI flash: driving them crashes the board
INPUT_ONLY = (34, 35, 36, 37, 38, 39)
UART0 = (1, 3)  # the REPL's serial port
# Strapping pins set the boot mode: a relay module pulling them at reset can stop the board
# from booting, and some pulse at boot, clicking the relay.
STRAPPING = (0, 2, 5, 12, 15)
PSRAM = (16, 17)  # taken by PSRAM on WROVER modules


def problem(pin):
    """Why this pin cannot drive the relay, or None."""
    if type(pin) is not int or pin < 0 or pin > 39:
        return "GPIO %r does not exist on an ESP32 (0 to 39)" % (pin,)
    if pin in FLASH:
        return "GPIO %d is wired to the flash chip; pick another pin (for example 23)" % pin
    if pin in INPUT_ONLY:
        return "GPIO %d is input-only and cannot drive a relay" % pin
    if pin in UART0:
        return "GPIO %d carries the serial console (REPL)" % pin
    if pin in (20, 24, 28, 29, 30, 31):
        return "GPIO %d does not exist on an ESP32" % pin
    return None


def caution(pin):
    """A reason to think twice about this pin, or None."""
    if pin in STRAPPING:
        return (
            "GPIO %d is a strapping pin: the relay may click at reset and a pull on it can stop "
            "the board booting; prefer 23, 22, 21, 19, 18, 33, 32, 27, 26, 25, 14, 13 or 4" % pin
        )
    if pin in PSRAM:
        return "GPIO %d is used by PSRAM on WROVER modules" % pin
    return None
