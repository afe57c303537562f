# Local clock time from Unix seconds (UTC), with EU or US daylight saving. Pure arithmetic, so it
# behaves the same whatever epoch the runtime's time module uses.

VALID_AFTER = 1704067200  # 2024-01-01: anything earlier means the clock was never set
YEAR_2000 = 946684800  # the bounds of a time worth believing, in a file or a token
YEAR_2100 = 4102444800
DAY_S = 86400


def days_from_civil(y, m, d):
    # Howard Hinnant's algorithm: days since 1970-01-01 for a proleptic Gregorian date.
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return y + (m <= 2), m, d


def weekday(days):
    return (days + 3) % 7  # Monday = 0; 1970-01-01 was a Thursday


def _nth_sunday(y, m, n):
    # day number of the n-th Sunday of the month; n = -1 for the last one
    if n > 0:
        first = days_from_civil(y, m, 1)
        return first + (6 - weekday(first)) % 7 + 7 * (n - 1)
    last = days_from_civil(y, m + 1, 1) - 1 if m < 12 else days_from_civil(y + 1, 1, 1) - 1
    return last - (weekday(last) + 1) % 7


def dst_active(utc, rule, offset_min):
    """True when daylight saving time is in force at this UTC instant."""
    if rule == "none":
        return False
    y = civil_from_days(utc // 86400)[0]
    if rule == "eu":  # last Sunday of March and of October, 01:00 UTC, everywhere at once
        start = _nth_sunday(y, 3, -1) * 86400 + 3600
        end = _nth_sunday(y, 10, -1) * 86400 + 3600
    else:  # "us": second Sunday of March 02:00 standard, first Sunday of November 02:00 daylight
        start = _nth_sunday(y, 3, 2) * 86400 + 7200 - offset_min * 60
        end = _nth_sunday(y, 11, 1) * 86400 + 7200 - offset_min * 60 - 3600
    return start <= utc < end


def local(utc, offset_min, rule):
    """Local wall-clock seconds (as if UTC) for a UTC instant."""
    return utc + offset_min * 60 + (3600 if dst_active(utc, rule, offset_min) else 0)


def day_number(local_s):
    return local_s // 86400


def minute_of_day(local_s):
    return local_s % 86400 // 60


def hms(local_s):
    s = local_s % 86400
    return "%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)


def date(local_s):
    return "%04d-%02d-%02d" % civil_from_days(local_s // 86400)


def in_window(minute, window):
    """Is this minute of the day inside (start, end)? The end is excluded; may cross midnight."""
    start, end = window
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def is_set(utc):
    return utc >= VALID_AFTER
