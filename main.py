# Entry point on the board and on the host (`micropython main.py` in a folder with config.json).
# The app never returns while it runs; anything that escapes it is reported here, the relay is
# left OFF, and the board restarts after a pause that leaves time for Ctrl-C. So does an app that
# does not even import (a broken release): boot.py counts that boot of its trial, and after three
# goes back to the previous version.
try:
    from firmware import app
except Exception as e:
    import sys
    import time

    sys.print_exception(e)
    print("fatal: the app does not import (%r); relay OFF, restarting in 30 s" % (e,))
    time.sleep(30 if sys.platform == "esp32" else 3)  # the simulated board's pause is shorter
    if sys.platform == "esp32":
        import machine

        machine.reset()
    raise SystemExit(77)  # the simulated board's reset: tools/board/hostboard.py starts it again
app.run()
