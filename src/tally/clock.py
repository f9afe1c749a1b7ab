"""UTC time and its one JSON form: ISO 8601 with milliseconds and ``Z``."""

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Final


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


# Zones where equal values are the same instant. In a zone whose clocks go back, two values
# of the zone that differ only in ``fold`` compare equal, an hour apart.
_NO_FOLD = (None, UTC)


class KeptText:
    """The text ``form`` writes of a timestamp's UTC value, the last one kept: most
    timestamps a request prints or binds are its one now (the created_at of its order, its
    customer and its events). An equal value reuses the text only when its zone is UTC or
    none (naive values are taken as UTC)."""

    def __init__(self, form: Callable[[datetime], str]) -> None:
        self._form = form
        # One tuple, replaced whole: a thread never sees a value with another's text.
        self._last: tuple[datetime | None, str] = (None, "")

    def __call__(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        seen, text = self._last
        if value is seen or (value.tzinfo in _NO_FOLD and value == seen):
            return text
        text = self._form(as_utc(value))
        self._last = (value, text)
        return text


def _api_form(utc: datetime) -> str:
    # isoformat, not strftime (which does not zero-pad years before 1000 on every
    # platform): "2026-11-24T10:02:03.123+00:00", milliseconds truncated, as "...Z".
    return utc.isoformat(timespec="milliseconds")[:-6] + "Z"


iso: Final = KeptText(_api_form)


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
