"""A release server for tests and trials: a release folder (tools/release.py) over HTTPS on
127.0.0.1, with the test CA's certificate (tools/sim/certs.py), as a web server would serve it, and
with faults on demand for the files (not the manifest): a truncated body, a wrong length, a
tampered byte, a missing file, a chunked reply, a stall.

    python -m tools.sim.release_server DIR      # serve DIR until Ctrl-C; prints update.url and CA
"""

import argparse
import os
import ssl
import sys
import threading
import time

from tools.sim import ROOT, certs
from tools.sim.server import Handler, Service, server_context, until_stopped

PREFIX = "/releases/"
FILE_FAULTS = ("truncate", "wrong-size", "tamper", "missing", "chunked", "stall")


class ReleaseServer(Service):
    def __init__(self, folder: str, pki: dict[str, str], port: int = 0) -> None:
        super().__init__(port)
        self.folder = folder
        self.pki = pki
        self.file_fault = None  # one of FILE_FAULTS, for the files from the fault_from'th on
        self.fault_from = 0
        self.stall_s = 30
        self.requests: list[str] = []  # paths asked for
        # of every request, lower case: what a board tells a server
        self.header_names: set[str] = set()
        self.files_served = 0
        self.lock = threading.Lock()
        self._ctx: ssl.SSLContext | None = None

    def tls_context(self) -> ssl.SSLContext:
        if self._ctx is None:
            self._ctx = server_context(self.pki["cloud_pem"], self.pki["cloud_key"])
        return self._ctx

    @property
    def url(self) -> str:
        return "https://127.0.0.1:%d%s" % (self.port, PREFIX.rstrip("/"))

    def serve(self, h: Handler) -> None:
        self.requests.append(h.path)
        self.header_names.update(name.lower() for name in h.headers.keys())
        if h.command != "GET" or not h.path.startswith(PREFIX):
            return h.reply(404, "not found", "text/plain")
        rel = h.path[len(PREFIX) :]
        full = os.path.realpath(os.path.join(self.folder, rel))
        if not full.startswith(os.path.realpath(self.folder) + os.sep) or not os.path.isfile(full):
            return h.reply(404, "not found", "text/plain")
        with open(full, "rb") as f:
            body = f.read()
        if rel in ("manifest.json", "manifest.sig"):
            return h.reply(200, body, "application/octet-stream")
        with self.lock:
            n = self.files_served
            self.files_served += 1
        fault = self.file_fault if n >= self.fault_from else None
        return self._file(h, body, fault)

    def _file(self, h, body, fault):
        if fault == "missing":
            return h.reply(404, "not found", "text/plain")
        if fault == "tamper" and body:
            body = body[:-1] + bytes([body[-1] ^ 1])
        if fault == "wrong-size":
            body = body + b"\n"
        if fault == "chunked":
            return h.reply(200, body, "application/octet-stream", chunked=True)
        if fault in ("truncate", "stall"):
            h.send_response(200)
            h.send_header("Content-Type", "application/octet-stream")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            if fault == "stall":
                time.sleep(self.stall_s)
            h.close_connection = True
            h.connection.close()
            return None
        return h.reply(200, body, "application/octet-stream")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="a release folder made by tools.release")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--pki", default=os.path.join(ROOT, "build", "pki"), help="test CA folder")
    args = p.parse_args(argv)
    pki = certs.make(args.pki)
    server = ReleaseServer(os.path.abspath(args.folder), pki, args.port).start()
    print("release_server: %s at %s" % (args.folder, server.url))
    print(
        'release_server: in config.json: "update": {"url": "%s", "ca_file": "ca.der"}' % server.url
    )
    print("release_server: and copy %s to the board as ca.der; Ctrl-C stops it" % pki["ca_der"])
    until_stopped(server.stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
