"""The firmware on the host: hostboard (main.py under micropython), vboard (a REPL), mpy."""
