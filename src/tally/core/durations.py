"""ISO 8601 durations of fixed length, as validity timeframes and $timeframe rules use them.
Pure: no I/O."""

import re
from datetime import timedelta

# ASCII digits, nine at most: "\d" would take other scripts' digits, and a number of
# thousands of digits makes int() itself refuse.
_N = r"([0-9]{1,9})"
_FIXED_DURATION = re.compile(rf"P(?:{_N}W)?(?:{_N}D)?(?:T(?:{_N}H)?(?:{_N}M)?(?:{_N}S)?)?")
# Past this a duration means nothing a shop would write (and timedelta would overflow).
_MAX_DAYS = 100 * 366


def fixed_duration(text: str) -> timedelta | None:
    """An ISO 8601 duration of weeks, days, hours, minutes and seconds; None for anything
    else (months and years have no fixed length)."""
    match = _FIXED_DURATION.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        return None
    weeks, days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = weeks * 7 + days + (hours * 3600 + minutes * 60 + seconds) // 86400
    if total > _MAX_DAYS:
        return None
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
