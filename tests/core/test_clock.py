"""The one JSON form of time: ISO 8601, UTC, milliseconds, Z."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.zones import SetBack
from tally.clock import iso, months_before, parse_datetime


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2022, 9, 9, 7, 44, 41, 594321, tzinfo=UTC), "2022-09-09T07:44:41.594Z"),
        (datetime(944, 2, 6, 7, 18, tzinfo=UTC), "0944-02-06T07:18:00.000Z"),
        (
            datetime(2022, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))),
            "2021-12-31T23:00:00.000Z",
        ),
        (datetime(2022, 1, 1), "2022-01-01T00:00:00.000Z"),
    ],
)
def test_iso(value: datetime, text: str) -> None:
    assert iso(value) == text


def test_iso_answers_for_each_value_not_the_one_printed_before() -> None:
    # The last text is kept (clock.KeptText, SQLite's binding too): only the same value or
    # an equal one in UTC may get it. "Its" is plus_two's.
    plus_two = datetime(2022, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    for value, text in [
        (plus_two, "2021-12-31T23:00:00.000Z"),
        (datetime(2022, 1, 1, 1, 0, tzinfo=UTC), "2022-01-01T01:00:00.000Z"),  # its clock
        (datetime(2021, 12, 31, 23, 0, tzinfo=UTC), "2021-12-31T23:00:00.000Z"),  # its time
        (datetime(2022, 1, 1, 1, 0, 0, 1000, tzinfo=UTC), "2022-01-01T01:00:00.001Z"),
        (datetime(2022, 1, 1, 1, 0, 0, 1000), "2022-01-01T01:00:00.001Z"),  # naive: UTC
        (datetime(2022, 1, 1, 1, 0, 0, 2000), "2022-01-01T01:00:00.002Z"),
        (plus_two, "2021-12-31T23:00:00.000Z"),
    ]:
        assert iso(value) == text


def test_iso_of_a_repeated_hour_tells_its_two_instants_apart() -> None:
    first = datetime(2026, 11, 1, 1, 30, tzinfo=SetBack())
    second = first.replace(fold=1)
    assert first == second  # one zone: Python compares the clocks, fold ignored
    assert iso(first) == "2026-11-01T05:30:00.000Z"
    assert iso(second) == "2026-11-01T06:30:00.000Z"


@given(
    st.datetimes(
        min_value=datetime(2, 1, 1),
        max_value=datetime(9998, 12, 30),
        # Fixed offsets (st.timezones() needs the system's tz database).
        timezones=st.none()
        | st.just(UTC)
        | st.builds(
            timezone,
            st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23)),
        ),
    )
)
def test_iso_is_utc_to_the_millisecond_truncated(value: datetime) -> None:
    utc = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(UTC)
    expected = (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )
    assert iso(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-11-16T14:14:31Z", "2016-11-16T14:14:31.000Z"),
        ("2016-11-16", "2016-11-16T00:00:00.000Z"),
        ("2016-11-16T14:14:31.123456+01:00", "2016-11-16T13:14:31.123Z"),
    ],
)
def test_parse_datetime(text: str, expected: str) -> None:
    assert iso(parse_datetime(text)) == expected


def test_parse_datetime_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_datetime("yesterday")


def test_months_before_clamps_to_the_end_of_a_shorter_month() -> None:
    assert months_before(datetime(2026, 5, 31, 12, tzinfo=UTC), 3) == datetime(
        2026, 2, 28, 12, tzinfo=UTC
    )
    assert months_before(datetime(2024, 5, 31, tzinfo=UTC), 3) == datetime(2024, 2, 29, tzinfo=UTC)
    assert months_before(datetime(2026, 2, 15, tzinfo=UTC), 3) == datetime(2025, 11, 15, tzinfo=UTC)
    assert months_before(datetime(2026, 11, 23, tzinfo=UTC), 0) == datetime(
        2026, 11, 23, tzinfo=UTC
    )
