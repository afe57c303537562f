# A stand-in for micropython-lib's ntptime, for host tests of board_esp32.py.
timeout = 1
fail = False


def settime():
    if fail:
        raise OSError(110)
