"""A virtual board: the micropython REPL behind a pseudo-terminal, reachable by mpremote at a
device path, like a USB serial port.

Two pseudo-terminals are bridged: micropython has one as its terminal (so its REPL, raw REPL and
Ctrl-C behave as on a board), and mpremote opens the other by path. Everything the board prints
is also kept, and a test can type at the REPL itself.
"""

import fcntl
import os
import pty
import select
import subprocess
import termios
import threading
import time
import tty

from tools.hostutil import venv_tool


def _make_controlling_terminal():
    # Ctrl-C typed at the terminal must reach micropython as SIGINT, as a UART's does on a board.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class VirtualBoard:
    def __init__(self, folder: str, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.output = bytearray()
        self._board_m, board_s = pty.openpty()
        self._host_m, self._host_s = pty.openpty()
        tty.setraw(self._host_s)
        attrs = termios.tcgetattr(board_s)
        attrs[1] &= ~termios.OPOST  # no "\n" -> "\r\n": mpremote expects the board's bytes
        termios.tcsetattr(board_s, termios.TCSANOW, attrs)
        os.set_blocking(self._host_m, False)
        self.path = os.ttyname(self._host_s)
        self.proc = subprocess.Popen(
            [venv_tool("micropython")],
            stdin=board_s,
            stdout=board_s,
            stderr=board_s,
            cwd=folder,
            env=env,
            preexec_fn=_make_controlling_terminal,
        )
        os.close(board_s)
        self._stop = False
        threading.Thread(target=self._bridge, daemon=True).start()
        self.wait_for(">>> ", 10)

    def _bridge(self):
        while not self._stop:
            r, _, _ = select.select([self._board_m, self._host_m], [], [], 0.1)
            for fd in r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return
                if fd == self._board_m:
                    self.output += data
                    try:
                        os.write(self._host_m, data)
                    except BlockingIOError:
                        pass  # nobody on the port: like a UART with no listener
                else:
                    os.write(self._board_m, data)

    def type(self, text: str | bytes) -> None:
        """Keys typed at the REPL (as by a user in a terminal)."""
        os.write(self._board_m, text.encode() if isinstance(text, str) else text)

    def wait_for(self, text: str, timeout: float = 20, start: int = 0) -> int:
        want = text.encode()
        deadline = time.time() + timeout
        while time.time() < deadline:
            i = self.output.find(want, start)
            if i >= 0:
                return i + len(want)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(
            "no %r from the virtual board in %.0f s; it printed:\n%s"
            % (text, timeout, self.output[-3000:].decode(errors="replace"))
        )

    def forget_port_input(self) -> None:
        """Drop what the board printed while no mpremote was listening."""
        termios.tcflush(self._host_s, termios.TCIFLUSH)

    def close(self) -> None:
        self._stop = True
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for fd in (self._board_m, self._host_m, self._host_s):
            try:
                os.close(fd)
            except OSError:
                pass
