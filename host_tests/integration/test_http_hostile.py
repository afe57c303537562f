# firmware/http.py against hostile servers on 127.0.0.1 (hostile.py, plain TCP and real TLS),
# each case under CPython and under the micropython binary (http_case.py): whatever the server
# does, a request ends within its deadline, with a clear error.
import errno
import json
import subprocess
import time

import http_case
import pytest
from conftest import ROOT
from hostile import Hostile, TrickleProxy, Unaccepting

from tools.hostutil import venv_tool
from tools.sim import certs

TIMEOUT_S = 1.0
MARGIN_MS = 600  # a busy machine's scheduling; the trickles below would take 6 s and more


@pytest.fixture
def pki(pki_dir):
    return certs.make(pki_dir)


@pytest.fixture(params=["cpython", "micropython"])
def exchange(request, tmp_path):
    """exchange(port=..., **case) -> http_case.run's result, on the runtime of the test id."""

    def run(**case):
        case.setdefault("timeout", TIMEOUT_S)
        if request.param == "cpython":
            return http_case.run(case)
        job = tmp_path / "job.json"
        job.write_text(json.dumps({"cases": [case]}))
        script = ROOT + "/host_tests/integration/http_case.py"
        r = subprocess.run(
            [venv_tool("micropython"), script, str(job), ROOT],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        return json.loads(r.stdout.strip().splitlines()[-1])

    return run


def in_time(out):
    assert out["ms"] <= TIMEOUT_S * 1000 + MARGIN_MS, out


def timed_out(out, what):
    assert out.get("errno") == errno.ETIMEDOUT, out
    assert what in out["message"] and "took more than 1 s" in out["message"], out
    in_time(out)


def refused(out, words):
    assert out.get("error") == "HTTPError" and words in out["message"], out
    in_time(out)


# -- 1. one deadline for the whole exchange ---------------------------------------------------


@pytest.mark.parametrize(
    "behaviour, tls",
    [
        ("trickle-status", False),
        ("trickle-headers", False),
        ("trickle-body", False),
        ("slow-trailers", False),
        ("silent", False),
        ("trickle-status", True),
        ("trickle-body", True),
    ],
)
def test_a_trickling_reply_ends_at_the_deadline(exchange, pki, behaviour, tls):
    with Hostile(behaviour, pki=pki if tls else None, pace_s=0.2) as server:
        out = exchange(port=server.port, tls=tls)
    timed_out(out, "the reply")


def test_a_dribbled_tls_handshake_ends_at_the_deadline(exchange, pki):
    # Each byte of the server's handshake comes 50 ms after the last: every read is quick, the
    # handshake takes a minute.
    with Hostile("ok", pki=pki) as server:
        with TrickleProxy(server.port, pace_s=0.05, limit_s=6) as proxy:
            out = exchange(port=proxy.port, tls=True)
    timed_out(out, "the TLS handshake")
    assert server.requests == [] and out["handshakes"] == 0


def test_a_trickling_envoy_behind_a_proxy_ends_at_the_deadline(exchange, pki):
    # The handshake and the reply's start at full speed, the rest 100 bytes every 0.2 s.
    with Hostile("large", pki=pki) as server:
        with TrickleProxy(server.port, pace_s=0.2, chunk=100, fast=4000, limit_s=6) as proxy:
            slow = exchange(port=proxy.port, tls=True)
        fine = exchange(port=server.port, tls=True)
    timed_out(slow, "the reply")
    assert slow["handshakes"] == 1
    assert fine["replies"][0]["body"] == "y" * 8000 and "error" not in fine, fine


def test_a_connect_without_answer_ends_at_the_deadline(exchange):
    with Unaccepting() as nowhere:
        out = exchange(port=nowhere.port)
    timed_out(out, "connecting")


# -- 2. caps on headers and cookies --------------------------------------------------------------


@pytest.mark.parametrize(
    "behaviour, words",
    [
        ("endless-headers", "more than 64 header lines"),
        ("cookie-flood", "more than 10 cookies or 2048 bytes"),
        ("big-cookies", "more than 10 cookies or 2048 bytes"),
        ("endless-trailers", "more than 64 trailer lines"),
        ("long-line", "longer than 1024 bytes"),
        ("interim-flood", "more than 4 interim (1xx) replies"),
    ],
)
def test_endless_or_oversized_parts_of_a_reply_are_refused(exchange, behaviour, words):
    with Hostile(behaviour) as server:
        out = exchange(port=server.port)
    refused(out, words)


# -- 3. broken framing and text ----------------------------------------------------------------


@pytest.mark.parametrize("size", [b"-3", b"0x2", b"1_0", b" +5", b"", b"5 5", b"123456789"])
def test_a_bad_chunk_size_is_refused(exchange, size):
    with Hostile("bad-chunk") as server:
        server.chunk_size = size
        out = exchange(port=server.port)
    refused(out, "bad chunk size")


def test_two_different_content_lengths_are_refused(exchange):
    with Hostile("two-lengths") as server:
        out = exchange(port=server.port)
    refused(out, "two different Content-Length headers: 2, 3")


def test_the_same_content_length_twice_is_fine(exchange):
    with Hostile("same-lengths") as server:
        out = exchange(port=server.port, requests=2)
    assert [r["body"] for r in out["replies"]] == ["ok", "ok"] and "error" not in out, out


@pytest.mark.parametrize("header", [b"Set-Cookie", b"Location", b"Content-Type"])
def test_a_header_that_is_not_utf8_is_refused(exchange, header):
    with Hostile("non-utf8") as server:
        server.bad_header = header
        out = exchange(port=server.port)
    refused(out, "header is not UTF-8 text")
    assert "\\xff" not in out["message"]  # the value is not shown: it may be a session id


def test_a_cloud_reply_not_utf8_is_a_broken_reply_not_a_certificate_problem(exchange, pki):
    with Hostile("non-utf8", pki=pki, cert="cloud") as server:
        out = exchange(port=server.port, tls=True, ca=pki["ca_der"], cloud=True)
    assert out.get("error") == "CloudError" and out["kind"] == "reply", out
    assert "not UTF-8" in out["message"], out


def test_an_untrusted_cloud_certificate_is_still_a_certificate_problem(exchange, pki):
    with Hostile("ok", pki=pki, cert="envoy") as server:  # self-signed: not from the test CA
        out = exchange(port=server.port, tls=True, ca=pki["ca_der"], cloud=True)
    assert out.get("error") == "CloudError" and out["kind"] == "certificate", out
    assert server.requests == []


# -- 4. interim replies ------------------------------------------------------------------------


def test_interim_replies_are_skipped_and_each_request_gets_its_own_reply(exchange):
    with Hostile("interim") as server:
        out = exchange(port=server.port, requests=3)
    assert "error" not in out, out
    assert [(r["status"], r["body"]) for r in out["replies"]] == [
        (200, "final 1"),
        (200, "final 2"),
        (200, "final 3"),
    ]
    assert server.connections == 1


# -- 5. what must keep working -------------------------------------------------------------------


def test_bytes_after_a_reply_are_not_taken_for_the_next_reply(exchange):
    with Hostile("extra-bytes") as server:
        out = exchange(port=server.port, requests=2)
    assert [r["body"] for r in out["replies"]] == ["ok", "ok"], out
    assert server.connections == 2  # the connection with stray bytes was dropped


@pytest.mark.parametrize("behaviour", ["late-reply", "body-after-204"])
@pytest.mark.parametrize("tls", [False, True])
def test_a_late_reply_between_requests_is_never_the_next_reply(exchange, pki, behaviour, tls):
    # The bytes arrive while the connection is idle (issue 20): they are seen before the next
    # request is sent, and that request goes on a new connection.
    with Hostile(behaviour, pki=pki if tls else None) as server:
        out = exchange(port=server.port, tls=tls, requests=2, pause_ms=600)
    bodies = [r["body"] for r in out["replies"]]
    assert bodies == (["ok", "ok"] if behaviour == "late-reply" else ["", "ok"]), out
    assert server.connections == 2 and server.count == 2, out


def test_keep_alive_over_tls(exchange, pki):
    with Hostile("ok", pki=pki) as server:
        out = exchange(port=server.port, tls=True, requests=5)
    assert [r["body"] for r in out["replies"]] == ["ok"] * 5 and out["handshakes"] == 1, out
    assert server.handshakes == 1 and server.count == 5


def test_check_peer_sees_the_certificate_before_anything_is_sent(exchange, pki):
    with Hostile("ok", pki=pki) as server:
        out = exchange(port=server.port, tls=True, refuse=True)
        # With TLS 1.3 the client is done first; the server ends its handshake a moment later.
        for _ in range(100):
            if server.handshakes:
                break
            time.sleep(0.01)
    assert out.get("error") == "RuntimeError" and "refused by check_peer" in out["message"], out
    assert out["peer"] == certs.sha256_of_pem(pki["envoy_pem"])
    assert server.handshakes == 1 and server.requests == []  # a full handshake, no request


def test_a_connection_the_server_closed_while_idle_is_reopened_once(exchange):
    with Hostile("ok", limit_s=0.3) as server:  # it hangs up after 0.3 s without a request
        out = exchange(port=server.port, requests=2, pause_ms=600)
    assert [r["body"] for r in out["replies"]] == ["ok", "ok"] and "error" not in out, out
    assert server.connections == 2


def test_no_second_try_after_a_timeout(exchange):
    with Hostile("once") as server:
        out = exchange(port=server.port, requests=2)
    assert out["replies"][0]["body"] == "ok"
    timed_out(out, "the reply")
    assert server.connections == 1 and server.count == 2
