"""Query-string values that filter lists, parsed once for every domain."""

from datetime import datetime

from tally.clock import parse_datetime
from tally.errors import invalid_query


def query_datetime(text: str, name: str) -> datetime:
    """``text`` as a date-time, or the spec's 400 naming the parameter. Dates at the edges
    of the calendar that a time zone pushes past them are refused too, not a 500."""
    try:
        return parse_datetime(text)
    except (ValueError, OverflowError):
        raise invalid_query(
            f"Property .{name} cannot be recognized as a ISO-8601 compliant date"
        ) from None
