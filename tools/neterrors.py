"""Network failures in human words, for the host tools (tools.envoy_pin, tools.envoy_read,
tools.token): which of the usual causes it is, and what to check.

    print(trying("192.168.1.50", 5), flush=True)
    try:
        ...
    except Exception as e:
        print(explain(e, "192.168.1.50"))

explain() knows CPython's socket and ssl errors, MicroPython's OSError(errno) and
(code, "MBEDTLS_...") forms, and the firmware's EnvoyError, PinMismatch, HTTPError and
CloudError (whose network failures it explains by the error underneath).
"""

import errno
import socket
import ssl

_REFUSED = (errno.ECONNREFUSED,)
_TIMED_OUT = (errno.ETIMEDOUT, 116)  # 116: ETIMEDOUT of MicroPython's lwIP
_UNREACHABLE = (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN)
_RESET = (errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE)
_NOT_RESOLVED = (-202,)  # MicroPython on the ESP32: getaddrinfo failed


def trying(host, timeout_s=None):
    """The line to print before a network step, so the wait is not silent."""
    if timeout_s:
        return "trying %s (up to %g s)..." % (host, timeout_s)
    return "trying %s..." % host


def _code(e):
    if isinstance(e, OSError):
        if e.errno is not None:
            return e.errno
        if e.args and type(e.args[0]) is int:
            return e.args[0]
    return None


def _underlying(e):
    """The OSError under a CloudError("network"/"certificate"), else e itself."""
    kind = getattr(e, "kind", None)
    inner = e.__cause__ or e.__context__
    if kind in ("network", "certificate") and isinstance(inner, (OSError, ValueError)):
        return inner
    return e


def _tls_reason(e):
    reason = getattr(e, "reason", None) or getattr(e, "verify_message", None)
    if not reason and len(e.args) > 1 and isinstance(e.args[1], str):
        reason = e.args[1]  # MicroPython: (code, "MBEDTLS_ERR_...")
    return str(reason or e).strip().lower().replace("_", " ")


def kind(e):
    """One word for the cause: refused, timeout, unreachable, unresolved, reset, not-envoy,
    not-http, tls, untrusted, certificate-changed, or other."""
    from firmware.envoy_parse import EnvoyError, PinMismatch
    from firmware.http import HTTPError

    e = _underlying(e)
    if isinstance(e, PinMismatch):
        return "certificate-changed"
    if isinstance(e, socket.gaierror) or _code(e) in _NOT_RESOLVED:
        return "unresolved"
    if isinstance(e, ssl.SSLCertVerificationError):
        return "untrusted"
    if isinstance(e, ssl.SSLError):
        return "tls"
    if isinstance(e, (TimeoutError, socket.timeout)) or _code(e) in _TIMED_OUT:
        return "timeout"
    if isinstance(e, ConnectionRefusedError) or _code(e) in _REFUSED:
        return "refused"
    if _code(e) in _UNREACHABLE:
        return "unreachable"
    if isinstance(e, ConnectionError) or _code(e) in _RESET:
        return "reset"
    if isinstance(e, OSError) and len(e.args) > 1 and "MBEDTLS" in str(e.args[1]):
        return "tls"
    if isinstance(e, (EnvoyError, ValueError)) and "/info" in str(e):
        return "not-envoy"
    if isinstance(e, ValueError) and "certificate" in str(e).lower():
        return "untrusted"  # MicroPython's failed verification
    if isinstance(e, HTTPError):
        return "not-http"
    return "other"


def explain(e, host, timeout_s=None, check=None):
    """A short message naming the cause of e, met while talking to host ("ip" or "ip:port").
    check: what to check when nothing answers there (default: the Envoy's address)."""
    k = kind(e)
    inner = _underlying(e)
    if k == "refused":
        return "%s refused the connection: nothing listens on that port there (check %s)" % (
            host,
            check or "the Envoy's address and port",
        )
    if k == "timeout":
        within = " within %g s" % timeout_s if timeout_s else ""
        return (
            "%s did not answer%s: no device at that address, or it is off or busy (check %s)"
            % (
                host,
                within,
                check or "the Envoy's IP address in your router",
            )
        )
    if k == "unreachable":
        return "no route to %s: this computer cannot reach that address (check %s)" % (
            host,
            check or "the address, and that you are on the Envoy's network",
        )
    if k == "unresolved":
        return "the name %s could not be resolved: use the Envoy's IP address" % host
    if k == "reset":
        return "%s closed the connection abruptly: not an Envoy, or it is restarting" % host
    if k == "tls":
        return (
            "the TLS (HTTPS) handshake with %s failed (%s): that port does not speak HTTPS like an"
            " Envoy (firmware before 7 speaks plain HTTP and has no certificate), or something"
            " in between interferes" % (host, _tls_reason(inner))
        )
    if k == "untrusted":
        return "the certificate of %s is not trusted (%s)" % (host, _tls_reason(inner))
    if k == "certificate-changed":
        return "%s: %s" % (host, inner)
    if k == "not-envoy":
        return (
            "%s answers, but with no Envoy /info page (%s): is it the Envoy's address, and not"
            " your router's or another device's?" % (host, inner)
        )
    if k == "not-http":
        return "%s does not answer like a web server (%s): is it the Envoy?" % (host, inner)
    return "%s: %s" % (host, str(e) or type(e).__name__)


def explain_cloud(why, error, cloud_cfg, timeout_s=None):
    """why: the account guard's failure line (tools.hostutil.cloud_token); error: the CloudError
    under it. A network failure is named in words; the guard's note on the next attempt stays."""
    if error is None or getattr(error, "kind", None) != "network":
        return why
    what = str(error).split(":")[0]  # "Enlighten login" or "Entrez token"
    url = cloud_cfg["login_url" if what.startswith("Enlighten") else "token_url"]
    host = url.split("/")[2]
    i = why.find("; next login")
    check = "this computer's Internet connection, and enlighten.%s if you changed it" % (
        "login_url" if what.startswith("Enlighten") else "token_url"
    )
    return "%s: %s%s" % (what, explain(error, host, timeout_s, check), why[i:] if i >= 0 else "")
