# Why there is no data (the heater's reason while it lasts), and a network error in words: shared
# by the link, its connection code and MQTT.
WIFI_DOWN = "wifi-down"
ENVOY_DOWN = "envoy-down"
NO_TOKEN = "no-token"
NO_CT = "no-ct"
PIN = "pin-mismatch"


def why(err):
    # OSError args are (errno,) or (code, "MBEDTLS_..."); keep the message short.
    import errno

    if isinstance(err, OSError) and err.args and type(err.args[0]) is int:
        code = err.args[0]
        names = {
            errno.ECONNREFUSED: "connection refused",
            errno.ETIMEDOUT: "timed out",
            errno.ECONNRESET: "connection reset",
            errno.EHOSTUNREACH: "host unreachable",
        }
        return names.get(code, "network error %s" % (err.args,))
    text = str(err)
    return text if text else type(err).__name__
