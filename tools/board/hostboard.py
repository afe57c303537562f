"""The real firmware on the host: a folder laid out like the board's flash (boot.py, main.py,
app.json and app/a/firmware/, or firmware/ at the root; config.json) and the `micropython`
binary running main.py in it, on the simulated board. Its console is collected line by line so
tests and the demo can follow it."""

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable

from tools.hostutil import venv_tool

RESET_STATUS = 77  # firmware/board_sim.py exits with it for machine.reset()

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENTRY_POINTS = ["boot.py", "main.py"]
# Modules an ESP32 has frozen that the venv's micropython lacks (umqtt.simple): host-only, never
# deployed, after the board folder and .frozen on the path.
UPY_LIB = os.path.join(ROOT, "tools", "upy_lib")


def lay_out(
    folder: str,
    config: dict | None = None,
    compiled: bool = False,
    slot: str | None = "a",
    release_key: str | None = None,
    tree: str = ROOT,
) -> str:
    """Copy the board files into folder and write config.json. compiled: firmware/ as .mpy, as
    tools.deploy puts it on a board (compiling sources costs heap a board never spends). slot:
    the app in app/<slot> (with its own boot.py and main.py) and app.json naming it, as `make
    deploy` lays it out; None: the app at the root of the flash, as mip or version 1.1 left it.
    release_key: the text of firmware/release_key.py to put in its place (a test's own key).
    tree: where the board files come from (a test release's tree)."""
    os.makedirs(folder, exist_ok=True)
    for name in ("app", "firmware"):
        shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
    for name in ("app.json", "app.json.tmp"):
        if os.path.exists(os.path.join(folder, name)):
            os.remove(os.path.join(folder, name))
    home = os.path.join(folder, "app", slot) if slot else folder
    os.makedirs(home, exist_ok=True)
    for name in ENTRY_POINTS:
        shutil.copy(os.path.join(tree, name), os.path.join(folder, name))
        if slot:
            shutil.copy(os.path.join(tree, name), os.path.join(home, name))
    shutil.copytree(
        os.path.join(tree, "firmware"),
        os.path.join(home, "firmware"),
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    if release_key is not None:
        with open(os.path.join(home, "firmware", "release_key.py"), "w") as f:
            f.write(release_key)
    if compiled:
        from tools.board import mpy

        for src in mpy.board_files(home):
            if src.startswith("firmware/"):
                err = mpy.compile_file(src, os.path.join(home, src[:-3] + ".mpy"), home)
                if err:
                    raise RuntimeError(err)
                os.remove(os.path.join(home, src))
    if slot:
        from tools.release import tree_version

        with open(os.path.join(folder, "app.json"), "w") as f:
            json.dump({"active": slot, "version": tree_version(tree)}, f)
    if config is not None:
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
    return folder


class HostBoard:
    """micropython in folder, running boot.py then main.py as a board does after a reset, and
    again after each machine.reset() (the simulated board exits with RESET_STATUS; `resets`
    counts them). sim_env: the DIVERTER_SIM value (clock, fault folder). binary: the MicroPython
    to run (default the venv's `micropython`); env: extra environment variables (e.g.
    ESP32_HEAP_GROW for the ESP32-heap stand-in, see tools/bench/heap.py)."""

    def __init__(
        self,
        folder: str,
        sim_env: str | None = None,
        heapsize: str | None = None,
        echo: bool = False,
        preexec_fn: Callable[[], None] | None = None,
        binary: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.lines: list[str] = []
        self.times: list[float] = []  # host time at which each line arrived
        self.resets = 0
        self._queue: queue.Queue = queue.Queue()
        self._stopping = False
        self._done = False  # the board has stopped for good (no restart coming)
        self.echo = echo
        self._env = dict(os.environ, **(env or {}))
        if sim_env:
            self._env["DIVERTER_SIM"] = sim_env
        self._cmd = [binary or venv_tool("micropython")]
        if binary is None:
            self._env["MICROPYPATH"] = ".frozen:" + UPY_LIB
        if heapsize:
            self._cmd += ["-X", "heapsize=%s" % heapsize]
        self._cmd += ["-c", "import boot\nimport main"]
        self._preexec_fn = preexec_fn
        self.proc = self._spawn()
        threading.Thread(target=self._read, daemon=True).start()

    def _spawn(self):
        return subprocess.Popen(
            self._cmd,
            cwd=self.folder,
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            start_new_session=True,
            preexec_fn=self._preexec_fn,
        )

    def _read(self):
        while True:
            for line in self.proc.stdout:
                line = line.rstrip("\n")
                self.times.append(time.time())
                self.lines.append(line)
                self._queue.put(line)
                if self.echo:
                    print(line, flush=True)
            if self.proc.wait() != RESET_STATUS or self._stopping:
                break
            self.resets += 1
            self._env["DIVERTER_RESET"] = "soft"  # board_sim's reset_cause()
            self.proc = self._spawn()  # the board starts again, as after machine.reset()
        self._done = True
        self._queue.put(None)

    def running(self) -> bool:
        """True until the board stops for good (a machine.reset() starts it again)."""
        return not self._done

    def wait_for(self, text: str, timeout: float = 20, after: int = 0) -> str:
        """The first console line (from index `after`) containing text; AssertionError if none
        arrives in time."""
        deadline = time.time() + timeout
        seen = after
        while True:
            while seen < len(self.lines):
                if text in self.lines[seen]:
                    return self.lines[seen]
                seen += 1
            left = deadline - time.time()
            if left <= 0 or (self._done and self._queue.empty() and seen >= len(self.lines)):
                raise AssertionError(
                    "no line with %r in %.0f s; console:\n%s"
                    % (text, timeout, "\n".join(self.lines[-40:]))
                )
            try:
                self._queue.get(timeout=min(left, 0.2))
            except queue.Empty:
                pass

    def find(self, text: str, after: int = 0) -> int | None:
        """Index of the first line from `after` containing text, or None."""
        for i in range(after, len(self.lines)):
            if text in self.lines[i]:
                return i
        return None

    def count(self, text: str) -> int:
        return sum(1 for line in self.lines if text in line)

    def output(self) -> str:
        return "\n".join(self.lines)

    def interrupt(self) -> None:
        """Ctrl-C, as at the serial console."""
        self.proc.send_signal(signal.SIGINT)

    def kill(self) -> None:
        """Power cut: no cleanup at all."""
        self._stopping = True
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it ended by itself meanwhile (a reset)
        self.proc.wait()

    def stop(self, timeout: float = 15) -> int | None:
        self._stopping = True
        if self.proc.poll() is None:
            self.interrupt()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode
