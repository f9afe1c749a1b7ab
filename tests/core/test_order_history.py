"""Day buckets count exactly what a walk over the orders would (tally.core.order_history)."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tally.core.order_history import (
    COUNTED_STATUSES,
    Change,
    OrderState,
    Span,
    changes,
    day_of,
    per_customer,
    reading,
    span_of,
    within,
)

_BASE = datetime(2026, 3, 28, 0, 0, tzinfo=UTC)  # a DST weekend somewhere: UTC has none
# Moments within five days, to the microsecond, with midnights and their neighbours likely.
_moments = st.one_of(
    st.integers(0, 5 * 86_400_000_000).map(lambda us: _BASE + timedelta(microseconds=us)),
    st.integers(0, 5).flatmap(
        lambda d: st.sampled_from([-1, 0, 1]).map(
            lambda us: _BASE + timedelta(days=d, microseconds=us)
        )
    ),
)


def _count(moments: list[datetime], span: Span) -> int:
    return sum(within(span, m) for m in moments)


def _by_reading(moments: list[datetime], span: Span) -> int:
    plan = reading(span)
    buckets = Counter(day_of(m) for m in moments)
    total = 0
    if plan.days:
        total += sum(
            n
            for day, n in buckets.items()
            if (plan.first_day is None or day >= plan.first_day)
            and (plan.last_day is None or day <= plan.last_day)
        )
    for edge in plan.edges:
        assert edge.start is not None
        # An edge is less than a day, never a day the buckets already counted.
        assert edge.end is None or edge.end - edge.start <= timedelta(days=1)
        if plan.days:
            assert (plan.first_day is not None and day_of(edge.start) < plan.first_day) or (
                plan.last_day is not None and day_of(edge.start) > plan.last_day
            )
        total += _count(moments, edge)
    return total


@given(st.lists(_moments, max_size=40), _moments, st.none() | _moments)
def test_a_window_read_from_days_and_edges_counts_what_a_walk_counts(
    moments: list[datetime], start: datetime, end: datetime | None
) -> None:
    span = Span(start, end)
    assert _by_reading(moments, span) == _count(moments, span)


@given(st.lists(_moments, max_size=40), _moments)
def test_an_open_start_reads_every_day_up_to_its_end(
    moments: list[datetime], end: datetime
) -> None:
    span = Span(None, end)
    assert _by_reading(moments, span) == _count(moments, span)


def test_the_ends_of_the_calendar_neither_overflow_nor_lose_orders() -> None:
    last = datetime.max.replace(tzinfo=UTC)
    first = datetime.min.replace(tzinfo=UTC)
    moments = [last - timedelta(hours=1), last, first, first + timedelta(hours=1)]
    for span in (
        span_of(last - timedelta(hours=2), None),
        span_of(last - timedelta(days=3, hours=2), last),
        span_of(last, None),  # nothing is after the last moment
        span_of(None, first + timedelta(hours=2)),
        span_of(None, first),
        Span(first, first + timedelta(days=2, hours=1)),
    ):
        assert _by_reading(moments, span) == _count(moments, span), span


@given(_moments, _moments)
def test_a_window_counts_strictly_between_its_ends(after: datetime, before: datetime) -> None:
    span = span_of(after, before)
    assert not within(span, after)
    assert not within(span, before)
    assert within(span, after + timedelta(microseconds=1)) == (
        after + timedelta(microseconds=1) < before
    )


def test_midnights_are_whole_days_without_edges() -> None:
    plan = reading(Span(_BASE, _BASE + timedelta(days=3)))
    assert (plan.days, plan.first_day, plan.last_day, plan.edges) == (
        True,
        date(2026, 3, 28),
        date(2026, 3, 30),
        (),
    )
    cut = reading(Span(_BASE + timedelta(hours=5), _BASE + timedelta(days=2, hours=1)))
    assert (cut.first_day, cut.last_day) == (date(2026, 3, 29), date(2026, 3, 29))
    assert cut.edges == (
        Span(_BASE + timedelta(hours=5), _BASE + timedelta(days=1)),
        Span(_BASE + timedelta(days=2), _BASE + timedelta(days=2, hours=1)),
    )


def test_day_of_reads_other_offsets_in_utc() -> None:
    from datetime import timezone

    late = datetime(2026, 3, 28, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    assert day_of(late) == date(2026, 3, 29)


_states = st.builds(
    OrderState,
    customer_id=st.none() | st.sampled_from(["cust_a", "cust_b"]),
    status=st.sampled_from(["CREATED", "PAID", "CANCELED", "FULFILLED"]),
    total_amount=st.integers(-1000, 10**9),
    created_at=st.sampled_from([_BASE, _BASE + timedelta(days=1, hours=3)]),
)


@given(st.lists(st.tuples(st.integers(0, 3), st.none() | _states), max_size=30))
def test_changes_keep_buckets_equal_to_a_recount(
    writes: list[tuple[int, OrderState | None]],
) -> None:
    """Orders 0..3 written in any sequence (None: deleted); buckets and summaries moved by
    the changes alone equal a recount of the final orders."""
    stored: dict[int, OrderState] = {}
    buckets: Counter[tuple[str, date]] = Counter()
    amounts: Counter[tuple[str, date]] = Counter()
    summary: dict[str, list[int]] = {}
    for number, state in writes:
        found = changes(stored.get(number), state)
        assert all(isinstance(c, Change) and (c.count or c.amount) for c in found)
        for change in found:
            buckets[(change.customer_id, change.day)] += change.count
            amounts[(change.customer_id, change.day)] += change.amount
        for customer_id, (count, amount) in per_customer(found).items():
            entry = summary.setdefault(customer_id, [0, 0])
            entry[0] += count
            entry[1] += amount
        if state is None:
            stored.pop(number, None)
        else:
            stored[number] = state
    counted = [s for s in stored.values() if s.customer_id and s.status in COUNTED_STATUSES]
    expected = Counter((s.customer_id or "", day_of(s.created_at)) for s in counted)
    assert {key: n for key, n in buckets.items() if n} == dict(expected)
    for key in set(amounts) | set(expected):
        customer_id, day = key
        assert amounts[key] == sum(
            s.total_amount
            for s in counted
            if s.customer_id == customer_id and day_of(s.created_at) == day
        )
    for customer_id in ("cust_a", "cust_b"):
        mine = [s for s in counted if s.customer_id == customer_id]
        assert summary.get(customer_id, [0, 0]) == [len(mine), sum(s.total_amount for s in mine)]
