# Times of day as config.json writes them ('18:00', '02:00-05:00'), read at boot by the config's
# checker, the boost and the tank's rules: apart from clock.py, which stays loaded while the
# diverter runs, so that their code does not.


def hhmm(text, expected="a time of day HH:MM, for example 18:00"):
    """'HH:MM' -> minute of the day; raises ValueError."""
    hm = text.strip().split(":")
    if len(hm) != 2 or len(hm[1]) != 2 or not hm[0].isdigit() or not hm[1].isdigit():
        raise ValueError("expected " + expected)
    h, m = int(hm[0]), int(hm[1])
    if h > 23 or m > 59:
        raise ValueError("%s is not a time of day" % text.strip())
    return h * 60 + m


def parse_window(text):
    """'HH:MM-HH:MM' -> (start_minute, end_minute); raises ValueError. May cross midnight."""
    parts = text.split("-")
    if len(parts) != 2:
        raise ValueError("expected HH:MM-HH:MM, for example 02:00-05:00")
    start, end = (hhmm(p, "HH:MM-HH:MM, for example 02:00-05:00") for p in parts)
    if start == end:
        raise ValueError("the window starts and ends at the same time")
    return start, end
