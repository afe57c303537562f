# Entry point on the board and on the host (`micropython main.py` in a folder with config.json).
# The app never returns while it runs; anything that escapes it is reported here, the relay is
# left OFF, and the board restarts after a pause that leaves time for Ctrl-C.
from firmware import app

app.run()
