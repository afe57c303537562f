# One exchange of firmware/http.py (or an Enlighten login through it), described by a dict, for
# test_http_hostile.py on both runtimes: pytest calls run(case) under CPython; the micropython
# binary runs this file with a JSON job (argv[1]: {"cases": [...]}) and the repository root
# (argv[2]), and prints one JSON line per case.
import json
import sys


def run(case):
    """case: port, tls, timeout, requests (how many GETs on one connection), ca (a DER file:
    verify the server, as for the cloud; else pin mode, check_peer), refuse (check_peer refuses
    the server), cloud (an Enlighten login instead of GETs), pause_ms (between requests).
    Returns: replies [{status, body, cookies, location}], error, message, errno, ms (from the
    first request to the end of the last), handshakes, peer (the SHA-256 check_peer saw)."""
    import binascii

    from firmware.compat import sleep_ms, ticks_diff, ticks_ms
    from firmware.http import Connection

    cadata = None
    if case.get("ca"):
        with open(case["ca"], "rb") as f:
            cadata = [f.read()]
    seen = []

    def check(digest):
        seen.append(digest)
        if case.get("refuse"):
            raise RuntimeError("refused by check_peer")

    tls = case.get("tls", False)
    pin = check if tls and not cadata else None
    timeout = case.get("timeout", 1.0)
    conn = Connection("127.0.0.1", case["port"], tls, cadata, pin, timeout)
    out = {"replies": []}
    start = ticks_ms()
    try:
        if case.get("cloud"):
            from firmware import enlighten
            from firmware.compat import tls_context

            url = "https://127.0.0.1:%d/login/login.json" % case["port"]
            tls = tls_context(cadata)
            out["session"] = enlighten.login(url, "owner@example.com", "pw", tls, timeout)
        else:
            for i in range(case.get("requests", 1)):
                if i and case.get("pause_ms"):
                    sleep_ms(case["pause_ms"])
                r = conn.request("GET", "/")
                reply = {
                    "status": r.status,
                    "body": str(bytes(r.body), "utf-8"),
                    "cookies": list(r.cookies),
                    "location": r.location,
                }
                out["replies"].append(reply)
    except Exception as e:
        out["error"] = type(e).__name__
        out["message"] = str(e)
        if isinstance(e, OSError):
            out["errno"] = e.args[0] if e.args else None
        if hasattr(e, "kind"):
            out["kind"] = e.kind
    finally:
        conn.close()
    out["ms"] = ticks_diff(ticks_ms(), start)
    out["handshakes"] = conn.handshakes
    if seen and seen[0] is not None:
        out["peer"] = str(binascii.hexlify(seen[0]), "ascii")
    return out


if __name__ == "__main__":
    sys.path.insert(0, sys.argv[2])
    with open(sys.argv[1]) as f:
        job = json.load(f)
    for case in job["cases"]:
        print(json.dumps(run(case)))
