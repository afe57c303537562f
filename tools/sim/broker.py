"""A private MQTT broker for the tests, the demo and the heap runs: Debian's mosquitto on
127.0.0.1 on a free port (tools/bootstrap.sh installs it), and mosquitto_sub/_pub as the client.

    b = Broker(users={"ha": "pw"}).start()   # users: a password file, no anonymous clients
    b = Broker(tls=(cert_pem, key_pem))       # and a TLS listener on b.tls_port (certs.py)
    w = b.watch("#")                          # every message as (retained, topic, payload)
    b.publish("diverter_x/mode/set", "off")
    b.stop()

A missing mosquitto is a setup bug: it raises, so that no test can skip for lack of it.
"""

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable

TOOLS = ("mosquitto", "mosquitto_sub", "mosquitto_pub", "mosquitto_passwd")


def _tool(name):
    path = shutil.which(name) or (
        "/usr/sbin/" + name if os.path.exists("/usr/sbin/" + name) else None
    )
    if path is None:
        raise RuntimeError(
            "%s is not installed: tools/bootstrap.sh installs Debian's mosquitto and "
            "mosquitto-clients (apt-get install mosquitto mosquitto-clients)" % name
        )
    return path


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Broker:
    def __init__(
        self,
        users: dict[str, str] | None = None,
        port: int | None = None,
        tls: tuple[str, str] | None = None,
    ) -> None:
        """tls: (certificate, key) PEM files for a second listener, on tls_port; the tests' own
        clients (publish, watch) stay on the plain port."""
        self.users = users or {}
        self.port = port or free_port()
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.dir = tempfile.mkdtemp(prefix="mosquitto-")
        os.chmod(self.dir, 0o755)  # mosquitto started as root reads its files as user mosquitto
        self.proc: subprocess.Popen | None = None
        self.watchers: list[Watcher] = []

    def start(self) -> "Broker":
        conf = os.path.join(self.dir, "mosquitto.conf")
        lines = ["listener %d 127.0.0.1" % self.port, "persistence false"]
        if self.tls:
            lines.append("listener %d 127.0.0.1" % (self.tls_port or 0))
            for key, src in zip(("certfile", "keyfile"), self.tls, strict=True):
                dst = os.path.join(self.dir, key + ".pem")
                shutil.copy(src, dst)
                os.chmod(dst, 0o644)  # a test key, read by the user mosquitto runs as
                lines.append("%s %s" % (key, dst))
        if self.users:
            pw = os.path.join(self.dir, "passwords")
            for i, (user, password) in enumerate(self.users.items()):
                flags = ["-b", "-c"] if i == 0 else ["-b"]
                subprocess.run([_tool("mosquitto_passwd"), *flags, pw, user, password], check=True)
            os.chmod(pw, 0o644)  # a test's throwaway passwords, hashed
            lines += ["allow_anonymous false", "password_file " + pw]
        else:
            lines.append("allow_anonymous true")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = open(os.path.join(self.dir, "log"), "w")
        proc = subprocess.Popen(
            [_tool("mosquitto"), "-c", conf], stdout=self.log, stderr=subprocess.STDOUT
        )
        self.proc = proc
        atexit.register(self.stop)  # never left running after a crash of its owner
        deadline = time.time() + 10
        while True:
            try:
                for port in (self.port, self.tls_port):
                    if port:
                        socket.create_connection(("127.0.0.1", port), 0.2).close()
                return self
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("mosquitto did not start:\n" + self.log_text())
                time.sleep(0.05)

    def log_text(self) -> str:
        with open(os.path.join(self.dir, "log")) as f:
            return f.read()

    def stop(self):
        for w in self.watchers:
            w.stop()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # by its PID
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def _auth(self, user, password):
        if user is None and self.users:
            user, password = next(iter(self.users.items()))
        return ["-u", user, "-P", password] if user else []

    def publish(
        self,
        topic: str,
        payload: str,
        retain: bool = False,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        cmd = [_tool("mosquitto_pub"), "-h", "127.0.0.1", "-p", str(self.port), "-t", topic]
        cmd += ["-m", payload] + (["-r"] if retain else []) + self._auth(user, password)
        subprocess.run(cmd, check=True, timeout=10)

    def watch(
        self, topic: str = "#", user: str | None = None, password: str | None = None
    ) -> "Watcher":
        w = Watcher(self, topic, self._auth(user, password))
        self.watchers.append(w)
        return w


class Watcher:
    """mosquitto_sub on topic; .messages: (retained, topic, payload) as they arrive."""

    def __init__(self, broker: Broker, topic: str, auth: list[str]) -> None:
        cmd = [_tool("mosquitto_sub"), "-h", "127.0.0.1", "-p", str(broker.port), "-t", topic]
        cmd += ["-F", "%r\t%t\t%p", "-i", "watcher-%d" % id(self)] + auth
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.messages: list[tuple[bool, str, str]] = []
        threading.Thread(target=self._read, daemon=True).start()
        time.sleep(0.3)  # subscribed before anything is published

    def _read(self):
        for line in self.proc.stdout:
            retained, topic, payload = line.rstrip("\n").split("\t", 2)
            self.messages.append((retained == "1", topic, payload))

    def on(self, topic: str) -> list[tuple[bool, str, str]]:
        return [m for m in self.messages if m[1] == topic]

    def wait(
        self, pred: Callable[[bool, str, str], bool], timeout: float = 20, after: int = 0
    ) -> tuple[bool, str, str]:
        """The first message (from index after) for which pred(retained, topic, payload)."""
        deadline = time.time() + timeout
        while True:
            for m in self.messages[after:]:
                if pred(*m):
                    return m
            if time.time() > deadline:
                raise AssertionError(
                    "no such MQTT message in %d s; last ones:\n%s"
                    % (timeout, "\n".join(map(str, self.messages[-15:])))
                )
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
