"""UTCDateTime's one-step SQLite binding writes exactly what SQLAlchemy's own two steps
write, so rows written before and after it compare and sort alike."""

from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from support.zones import SetBack
from tally.db.base import UTCDateTime

_DIALECT = sqlite.dialect()
_FAST = UTCDateTime().bind_processor(_DIALECT)
_SQLALCHEMY = sa.DateTime().dialect_impl(_DIALECT).bind_processor(_DIALECT)

zones = st.one_of(
    st.none(),
    st.just(UTC),
    st.integers(min_value=-23 * 60, max_value=23 * 60).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    ),
)


def _two_steps(value: datetime) -> str:
    stored = UTCDateTime().process_bind_param(value, _DIALECT)
    assert _SQLALCHEMY is not None
    text: str = _SQLALCHEMY(stored)
    return text


@given(
    st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones)
)
def test_the_one_step_binding_writes_what_the_two_steps_write(value: datetime) -> None:
    assert _FAST(value) == _two_steps(value)


def test_microseconds_are_always_written_and_none_stays_none() -> None:
    assert _FAST(datetime(2026, 11, 24, 3, 12, 45, tzinfo=UTC)) == "2026-11-24 03:12:45.000000"
    assert _FAST(None) is None


def test_a_repeated_hour_gets_the_text_of_each_instant() -> None:
    # The binding keeps the last text by clock.KeptText's rule (tested in
    # tests/core/test_clock.py): this shows it goes through that rule.
    first = datetime(2026, 11, 1, 1, 30, tzinfo=SetBack())
    second = first.replace(fold=1)
    assert first == second  # one zone: Python compares the clocks, fold ignored
    assert _FAST(first) == "2026-11-01 05:30:00.000000"
    assert _FAST(second) == "2026-11-01 06:30:00.000000"


def test_postgresql_keeps_sqlalchemys_binding() -> None:
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    value = datetime(2026, 11, 24, 3, 12, 45, 123000, tzinfo=timezone(timedelta(hours=2)))
    processor = UTCDateTime().bind_processor(dialect)
    assert processor is not None
    bound = processor(value)
    assert bound == value
    assert bound.tzinfo == UTC
