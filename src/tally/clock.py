"""UTC time and its one JSON form: ISO 8601 with milliseconds and ``Z``."""

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    # Millisecond precision: what the API prints is what is stored, so a value read back
    # compares equal to the one returned at creation.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive value is taken to be UTC already."""
    if value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Zones where equal values are the same instant. In a zone with a fold (a clock set back),
# two values of one zone that differ only in ``fold`` compare equal an hour apart.
NO_FOLD = (None, UTC)

# The last value printed and its text: a response and its events print the same few
# timestamps again and again. An equal value in UTC (naive ones taken as UTC) prints the same.
_last: tuple[datetime | None, str] = (None, "")


def iso(value: datetime | None) -> str | None:
    global _last
    if value is None:
        return None
    seen, text = _last
    if value is seen or (value.tzinfo in NO_FOLD and value == seen):
        return text
    # isoformat, not strftime (which does not zero-pad years before 1000 on every
    # platform): "2026-11-24T10:02:03.123+00:00", milliseconds truncated, as "...Z".
    text = as_utc(value).isoformat(timespec="milliseconds")[:-6] + "Z"
    _last = (value, text)
    return text


def parse_datetime(text: str) -> datetime:
    """Any ISO 8601 date-time or date, as the API accepts on input (BEHAVIOR 1.4)."""
    text = text.strip()
    if len(text) == 10:
        d = date.fromisoformat(text)
        return datetime(d.year, d.month, d.day, tzinfo=UTC)
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def months_before(value: datetime, months: int) -> datetime:
    """The same time ``months`` calendar months earlier; a day the month lacks becomes its
    last day (31 May less 3 months is 28 or 29 February)."""
    index = value.year * 12 + value.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for day in range(value.day, 27, -1):
        try:
            return value.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return value.replace(year=year, month=month)
