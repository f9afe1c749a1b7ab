"""A customer's purchase history kept in day buckets: which buckets an order write changes,
and how a window of time is read from whole days plus the two partial days at its ends.

Why buckets: a purchase-history rule asks "how many paid orders in the last 30 days" at
every validation. Counting the customer's orders each time costs as many rows as they have
orders; a day bucket holds a day's count and amount, so a window costs one row per day it
spans, plus the orders of the (at most two) days it cuts in half. Pure: no I/O.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

# Orders with these statuses are purchases (BEHAVIOR 14.4, 16.6).
COUNTED_STATUSES = ("PAID", "FULFILLED")

_TICK = timedelta(microseconds=1)  # the stores' resolution: after < t is after + 1 µs <= t


@dataclass(frozen=True)
class OrderState:
    """What of an order its customer's history holds."""

    customer_id: str | None
    status: str
    total_amount: int
    created_at: datetime

    @property
    def counted(self) -> bool:
        return self.customer_id is not None and self.status in COUNTED_STATUSES


@dataclass(frozen=True)
class Change:
    """What one day bucket of one customer gains (negative: loses)."""

    customer_id: str
    day: date
    count: int
    amount: int


def day_of(moment: datetime) -> date:
    """The UTC day a moment falls on (naive moments are UTC, as the stores keep them)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def changes(old: OrderState | None, new: OrderState | None) -> list[Change]:
    """The bucket changes that take an order from ``old`` to ``new`` (None: no order),
    merged per customer and day, those that cancel out left out."""
    merged: dict[tuple[str, date], tuple[int, int]] = {}
    for state, sign in ((old, -1), (new, 1)):
        if state is None or not state.counted:
            continue
        assert state.customer_id is not None  # counted implies it
        key = (state.customer_id, day_of(state.created_at))
        count, amount = merged.get(key, (0, 0))
        merged[key] = (count + sign, amount + sign * state.total_amount)
    return [
        Change(customer_id, day, count, amount)
        for (customer_id, day), (count, amount) in sorted(merged.items())
        if count or amount
    ]


def per_customer(found: Iterable[Change]) -> dict[str, tuple[int, int]]:
    """The changes summed per customer: what summary.orders gains."""
    out: dict[str, tuple[int, int]] = {}
    for change in found:
        count, amount = out.get(change.customer_id, (0, 0))
        out[change.customer_id] = (count + change.count, amount + change.amount)
    return out


@dataclass(frozen=True)
class Span:
    """Orders created at ``start`` <= t < ``end`` (None: open on that side)."""

    start: datetime | None
    end: datetime | None


def span_of(after: datetime | None, before: datetime | None) -> Span:
    """The span of a window that counts orders created strictly after ``after`` and
    strictly before ``before``."""
    if after is None:
        return Span(None, before)
    try:
        return Span(after + _TICK, before)
    except OverflowError:
        return Span(after, after)  # nothing is after the last moment there is


@dataclass(frozen=True)
class Reading:
    """How to count a span: the whole days ``first_day``..``last_day`` (inclusive; None
    when open on that side) from buckets when ``days`` is set, plus the orders of every span
    in ``edges`` (each with a start; an end only missing at the last day there is) counted
    one by one."""

    days: bool
    first_day: date | None
    last_day: date | None
    edges: tuple[Span, ...]


def within(span: Span, moment: datetime) -> bool:
    return (span.start is None or span.start <= moment) and (span.end is None or moment < span.end)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def reading(span: Span) -> Reading:
    """How to count a span: the whole days inside it from buckets, the cut days at its ends
    order by order. An open start reads every bucket up to its end (one row per day with
    purchases, however many orders)."""
    start = None if span.start is None else span.start.astimezone(UTC)
    end = None if span.end is None else span.end.astimezone(UTC)
    if start is not None and end is not None and end <= start:
        return Reading(False, None, None, ())
    edges: list[Span] = []
    first: date | None = None
    if start is not None:
        first = day_of(start)
        if start != _midnight(first):
            if first == date.max:
                return Reading(False, None, None, (Span(start, end),))  # no day after it
            first_end = _midnight(first + timedelta(days=1))
            if end is not None and end <= first_end:
                return Reading(False, None, None, (Span(start, end),))
            edges.append(Span(start, first_end))
            first += timedelta(days=1)
    if end is None:
        return Reading(True, first, None, tuple(edges))
    last = day_of(end)
    if end != _midnight(last):
        edges.append(Span(_midnight(last), end))
    if last == date.min:
        return Reading(False, None, None, tuple(edges))  # no day before it
    last -= timedelta(days=1)  # the day ``end`` falls on is cut (or starts at ``end``)
    return Reading(first is None or first <= last, first, last, tuple(edges))
