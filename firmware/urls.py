# Host and URL strings from config.json, split for sockets. Kept apart from config.py so the
# running diverter does not need config.py (which is unloaded after boot to free its RAM).


def split_host(text):
    """'192.168.1.50' or 'host:port' -> (host, port or None); raises ValueError."""
    host, port = text, None
    if text.count(":") == 1:
        host, p = text.split(":")
        if not p.isdigit() or not 0 < int(p) < 65536:
            raise ValueError("the port in %r is not a number from 1 to 65535" % text)
        port = int(p)
    if not host or " " in host or "/" in host:
        raise ValueError("expected an address like 192.168.1.50 or envoy.local, no http://")
    return host, port


def split_url(url):
    """'https://host[:port]/path' -> (host, port, path); raises ValueError."""
    if not url.startswith("https://"):
        raise ValueError("must start with https://")
    rest = url[8:]
    i = rest.find("/")
    hostport, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    host, port = split_host(hostport)
    return host, port or 443, path
