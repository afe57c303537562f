# tools.neterrors: each network failure a user meets, produced by a real server (or a real
# absence of one) on 127.0.0.1, named in words; and tools.envoy_pin using it.
import errno
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import enlighten
from firmware.envoy import Envoy
from firmware.envoy_parse import EnvoyError, PinMismatch
from firmware.http import Connection, HTTPError
from tools.neterrors import explain, kind, trying


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def silent():
    """A port that takes connections (the kernel's backlog) but never says a word."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    yield s.getsockname()[1]
    s.close()


def serve(reply, tls_cert=None):
    """A server that answers every connection with `reply` bytes (after TLS if a cert is given),
    then closes. Returns the port."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    ctx = None
    if tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls_cert)

    def loop():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            try:
                c.settimeout(5)
                if ctx:
                    c = ctx.wrap_socket(c, server_side=True)
                c.recv(4096)
                c.sendall(reply)
            except OSError:
                pass
            finally:
                c.close()

    threading.Thread(target=loop, daemon=True).start()
    serve.sockets.append(srv)
    return srv.getsockname()[1]


serve.sockets = []


@pytest.fixture(autouse=True)
def _close_servers():
    yield
    while serve.sockets:
        serve.sockets.pop().close()


def envoy_cert(pki_dir):
    return (os.path.join(pki_dir, "envoy.pem"), os.path.join(pki_dir, "envoy.key"))


def failure(fn, *args):
    try:
        fn(*args)
    except Exception as e:
        return e
    raise AssertionError("no failure")


def tls_connect(port, timeout_s=1):
    c = Connection("127.0.0.1", port, tls=True, check_peer=lambda d: None, timeout_s=timeout_s)
    try:
        c.connect()
    finally:
        c.close()


def test_refused():
    e = failure(tls_connect, closed_port())
    assert kind(e) == "refused"
    assert "127.0.0.1:9 refused the connection" in explain(e, "127.0.0.1:9")


def test_timeout_when_nothing_answers(silent):
    t = time.monotonic()
    e = failure(tls_connect, silent, 0.5)
    assert time.monotonic() - t < 3
    assert kind(e) == "timeout"
    assert "did not answer within 0.5 s" in explain(e, "h", 0.5)


def test_tls_garbage():
    e = failure(tls_connect, serve(os.urandom(300)))
    assert kind(e) == "tls" and "TLS (HTTPS) handshake with h failed" in explain(e, "h")


def test_plain_http_on_the_https_port():
    e = failure(tls_connect, serve(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
    assert kind(e) == "tls" and "plain HTTP" in explain(e, "h")


def test_closed_during_the_handshake():
    e = failure(tls_connect, serve(b""))
    assert kind(e) in ("tls", "reset")
    assert "h" in explain(e, "h")


def test_not_an_envoy_https_404(pki_dir):
    port = serve(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", envoy_cert(pki_dir))
    e = failure(Envoy("127.0.0.1", port, "off", timeout_s=2).probe)
    assert isinstance(e, EnvoyError) and kind(e) == "not-envoy"
    assert "no Envoy /info page" in explain(e, "h")


def test_not_an_envoy_html_info(pki_dir):
    page = b"<html><body>Router login</body></html>"
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(page), page)
    e = failure(Envoy("127.0.0.1", serve(reply, envoy_cert(pki_dir)), "off", 2).probe)
    assert kind(e) == "not-envoy", repr(e)


def test_not_http(pki_dir):
    e = failure(
        Envoy("127.0.0.1", serve(b"SSH-2.0-OpenSSH\r\n", envoy_cert(pki_dir)), "off", 2).probe
    )
    assert isinstance(e, HTTPError) and kind(e) == "not-http"


def test_certificate_changed(sim):
    e = failure(Envoy("127.0.0.1", sim.envoy.port, "ab" * 32, timeout_s=2).probe)
    assert isinstance(e, PinMismatch) and kind(e) == "certificate-changed"
    assert "certificate changed" in explain(e, sim.envoy.host)


def test_untrusted_cloud_certificate(sim):
    with open(sim.pki["ca_der"], "rb") as f:
        wrong = f.read()
    e = failure(
        Connection("127.0.0.1", sim.envoy.port, tls=True, cadata=[wrong], timeout_s=2).connect
    )
    assert kind(e) == "untrusted" and "is not trusted" in explain(e, "h")


def test_the_cloud_errors_are_explained_by_what_lies_under(sim):
    cfg = dict(sim.config()["enlighten"])
    cfg["login_url"] = "https://127.0.0.1:%d/login/login.json" % closed_port()
    e = failure(enlighten.get_token, cfg, "122446001637")
    assert isinstance(e, enlighten.CloudError) and e.kind == "network"
    assert kind(e) == "refused"
    cfg = dict(sim.config()["enlighten"], ca_file="")  # the public roots: the test CA is not one
    e = failure(enlighten.get_token, cfg, "122446001637")
    assert e.kind == "certificate" and kind(e) == "untrusted"
    bad = dict(sim.config()["enlighten"], password="wrong")
    e = failure(enlighten.get_token, bad, "122446001637")
    assert kind(e) == "other" and "wrong e-mail or password" in explain(e, "cloud")


@pytest.mark.parametrize(
    "exc, want",
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "unresolved"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "unreachable"),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "unreachable"),
        (OSError(errno.ECONNRESET), "reset"),
        # MicroPython's forms: bare errno codes and mbedTLS pairs
        (OSError(113), "unreachable"),
        (OSError(111), "refused"),
        (OSError(116), "timeout"),
        (OSError(-202), "unresolved"),
        (OSError(-29312, "MBEDTLS_ERR_SSL_CONN_EOF"), "tls"),
        (ValueError("invalid cert"), "other"),
        (ValueError("certificate verification failed"), "untrusted"),
        (RuntimeError(), "other"),
    ],
)
def test_causes_that_127_0_0_1_cannot_produce(exc, want):
    assert kind(exc) == want
    assert explain(exc, "192.168.1.50")


def test_words_for_the_constructed_causes():
    assert "could not be resolved: use the Envoy's IP address" in explain(
        socket.gaierror(-2, "Name or service not known"), "envoy.local"
    )
    assert "no route to 10.0.0.9" in explain(OSError(errno.EHOSTUNREACH, "x"), "10.0.0.9")
    assert explain(RuntimeError(), "h") == "h: RuntimeError"


def test_trying():
    assert trying("192.168.1.50", 5) == "trying 192.168.1.50 (up to 5 s)..."
    assert trying("h") == "trying h..."


ERRORS = st.one_of(
    st.builds(OSError, st.integers(-40000, 40000)),
    st.builds(OSError, st.integers(-40000, 40000), st.text(max_size=40)),
    st.builds(OSError, st.text(max_size=40)),
    st.builds(OSError),
    st.builds(ValueError, st.text(max_size=80)),
    st.builds(EnvoyError, st.text(max_size=80)),
    st.builds(HTTPError, st.text(max_size=80)),
    st.builds(enlighten.CloudError, st.sampled_from(["network", "certificate", "x"]), st.text()),
    st.builds(ssl.SSLError, st.integers(0, 9), st.text(max_size=40)),
)


@settings(derandomize=True, database=None, max_examples=500, deadline=None)
@given(ERRORS, st.text(min_size=1, max_size=30))
def test_explain_never_fails(exc, host):
    text = explain(exc, host, 5)
    assert isinstance(text, str) and host in text


# -- tools.envoy_pin ---------------------------------------------------------------------------


def envoy_pin(*args):
    t = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "tools.envoy_pin", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return r.returncode, r.stdout + r.stderr, time.monotonic() - t


def test_envoy_pin_refused():
    host = "127.0.0.1:%d" % closed_port()
    code, out, _ = envoy_pin("--host", host)
    assert code == 1
    assert out.splitlines()[0] == "trying %s (up to 5 s)..." % host
    assert "refused the connection" in out and "_ssl" not in out and "111" not in out


def test_envoy_pin_gives_up_after_its_timeout(silent):
    code, out, took = envoy_pin("--host", "127.0.0.1:%d" % silent, "--timeout", "1")
    assert code == 1 and "did not answer within 1 s" in out and took < 10, out


def test_envoy_pin_default_timeout_is_short(silent):
    code, out, took = envoy_pin("--host", "127.0.0.1:%d" % silent)
    assert code == 1 and "did not answer within 5 s" in out and took < 15, out


def test_envoy_pin_plain_http_old_firmware(sim, envoy_for):
    old = envoy_for("4.10.35")
    code, out, _ = envoy_pin("--host", old.host)
    assert code == 1 and "plain HTTP" in out and "_ssl.c" not in out, out


def test_envoy_pin_bad_host_argument():
    code, out, _ = envoy_pin("--host", "192.168.1.50:99999")
    assert code == 2 and "usage:" in out


# -- tools.envoy_read and tools.token ------------------------------------------------------------


def tool(name, *args, cwd=ROOT):
    t = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "tools." + name, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    return r.returncode, r.stdout + r.stderr, time.monotonic() - t


def in_words(out):
    # No raw errno, no ssl module internals, no traceback.
    for raw in ("_ssl", "Errno", "111", "network error", "Traceback"):
        assert raw not in out, out


def test_envoy_read_refused():
    host = "127.0.0.1:%d" % closed_port()
    code, out, _ = tool("envoy_read", "--host", host, "--token", "x")
    assert code == 1, out
    assert out.splitlines()[0] == "trying %s (up to 5 s)..." % host
    assert "could not read the Envoy: %s refused the connection" % host in out
    assert "check the Envoy's address and port" in out
    in_words(out)


def test_envoy_read_gives_up_after_5_s(silent):
    host = "127.0.0.1:%d" % silent
    code, out, took = tool("envoy_read", "--host", host, "--token", "x")
    assert code == 1 and took < 15, (took, out)
    assert out.splitlines()[0] == "trying %s (up to 5 s)..." % host
    assert "could not read the Envoy: %s did not answer within 5 s" % host in out
    in_words(out)


def host_config(tmp_path, sim, envoy_port, serial="", login_port=None):
    cfg = sim.config()
    cfg["envoy"].update(host="127.0.0.1:%d" % envoy_port, serial=serial)
    if login_port:
        cfg["enlighten"]["login_url"] = "https://127.0.0.1:%d/login/login.json" % login_port
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return str(tmp_path / "config.json")


def test_token_envoy_refused_for_the_serial(sim, tmp_path):
    port = closed_port()
    code, out, _ = tool("token", "--config", host_config(tmp_path, sim, port), cwd=tmp_path)
    assert code == 1, out
    host = "127.0.0.1:%d" % port
    assert "the Envoy serial, from its /info: trying %s (up to 5 s)..." % host in out
    assert "could not read the serial: %s refused the connection" % host in out
    assert out.rstrip().endswith("; or give --serial"), out
    assert sim.cloud.logins == 0
    in_words(out)


def test_token_envoy_silent_for_the_serial(sim, tmp_path, silent):
    cfg = host_config(tmp_path, sim, silent)
    code, out, took = tool("token", "--config", cfg, cwd=tmp_path)
    assert code == 1 and took < 15, (took, out)
    assert "could not read the serial: 127.0.0.1:%d did not answer within 5 s" % silent in out
    in_words(out)


def test_token_cloud_refused(sim, tmp_path):
    port = closed_port()
    cfg = host_config(tmp_path, sim, sim.envoy.port, sim.envoy.serial, login_port=port)
    code, out, _ = tool("token", "--config", cfg, cwd=tmp_path)
    assert code == 1, out
    host = "127.0.0.1:%d" % port
    assert "trying Enlighten (%s) (up to 10 s)..." % host in out
    assert "failed: Enlighten login: %s refused the connection" % host in out
    assert "check this computer's Internet connection" in out
    assert out.rstrip().endswith("; next login attempt in 5 min"), out
    in_words(out)
