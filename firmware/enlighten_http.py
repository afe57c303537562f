# The Enphase cloud's requests and replies, shared by both token paths (enlighten.py and
# enlighten_web.py): one POST per connection with a browser-like User-Agent (since 2025 Enphase
# answers 403/406 without one), and a failure's message with the cloud's status and first bytes,
# secrets masked.
from firmware import VERSION
from firmware.http import CertificateError, Connection, HTTPError
from firmware.urls import split_url

TIMEOUT_S = 15
USER_AGENT = "Mozilla/5.0 (compatible; envoy-diverter/%s)" % VERSION
EXCERPT = 80  # characters of a failed reply shown on the console
FORM = "application/x-www-form-urlencoded"
GONE = (400, 404, 405, 406, 410)  # an endpoint that Enphase has moved or retired


class CloudError(Exception):
    """kind: credentials, mfa, locked, server, network, certificate, reply, or gone (this path's
    endpoint answers as if retired: the other path may work)."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def _quote(s):
    safe = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    out = []
    for b in s.encode():
        out.append(chr(b) if b in safe else "%%%02X" % b)
    return "".join(out)


def form(fields):
    """application/x-www-form-urlencoded, in the order given."""
    return "&".join("%s=%s" % (_quote(k), _quote(v)) for k, v in fields)


class _Reply:
    def __init__(self, status, body, html, cookies, location):
        self.status, self.body, self.html = status, body, html
        self.cookies, self.location = cookies, location


def post(url, body, content_type, tls, what, timeout_s, cookies=()):
    host, port, path = split_url(url)
    conn = Connection(host, port, tls=True, cadata=True, timeout_s=timeout_s or TIMEOUT_S)
    conn.reuse((None, None, None) + tuple(tls))
    headers = [
        ("Content-Type", content_type),
        ("Accept", "application/json"),
        ("User-Agent", USER_AGENT),
        ("Connection", "close"),
    ]
    if cookies:
        headers.append(("Cookie", "; ".join(cookies)))
    try:
        r = conn.request("POST", path, headers, body)
        return _Reply(
            r.status, bytes(r.body), r.looks_like_html(), list(r.cookies), r.location or ""
        )
    except CertificateError as e:  # only the handshake's refusal of the certificate
        raise CloudError(
            "certificate", "%s: the server's certificate is not trusted (%s)" % (what, e)
        )
    except (HTTPError, ValueError) as e:
        raise CloudError("reply", "%s: broken reply (%s)" % (what, e))
    except OSError as e:
        why = e.args[1] if len(e.args) > 1 else (e.args[0] if e.args else e)
        raise CloudError("network", "%s: network error %s" % (what, why))
    finally:
        conn.close()


def excerpt(reply, secrets=()):
    """The first bytes of a reply for the console: printable ASCII only, the given secrets and
    anything shaped like a token or a session id (16 or more of letters, digits and -_.+/=)
    masked, at most EXCERPT characters."""
    text = "".join(chr(b) if 32 <= b < 127 else " " for b in reply[: 4 * EXCERPT])
    for s in secrets:
        if s:
            text = text.replace(s, " [...] ")
    out, run = [], []
    for c in text + " ":
        if c.isalpha() or c.isdigit() or c in "-_.+/=":
            run.append(c)
            continue
        out.append("[...]" if len(run) >= 16 else "".join(run))
        out.append(c)
        run = []
    text = " ".join("".join(out).split())
    return text[:EXCERPT] + ("..." if len(text) > EXCERPT else "")


def said(r, secrets):
    # What the cloud answered, for a failure's message.
    body = excerpt(r.body, secrets)
    return "; Enphase answered %d%s" % (r.status, ' "%s"' % body if body else " with no text")


def status_error(r, what, secrets, gone=GONE):
    status = r.status
    answered = said(r, secrets)
    if status == 401:
        return CloudError("credentials", "%s: wrong e-mail or password (401)%s" % (what, answered))
    if status in (403, 429):
        return CloudError(
            "locked",
            "%s: refused (%d); the account may be locked after too many logins%s"
            % (what, status, answered),
        )
    if status in gone:
        return CloudError("gone", "%s: the endpoint seems gone (%d)%s" % (what, status, answered))
    if status >= 500:
        return CloudError(
            "server", "%s: Enphase's server failed (%d)%s" % (what, status, answered)
        )
    return CloudError("server", "%s: unexpected answer %d%s" % (what, status, answered))
