"""What the dashboard's pages show, read through the domains' own repositories and services.

Keyword-only functions over one connection; the caller owns the transaction. Every read is
scoped to the signed-in project.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.async_actions import service as async_actions
from tally.clock import as_utc, parse_datetime
from tally.common import repository as common
from tally.customers import repository as customers_repository
from tally.customers import service as customers
from tally.customers.tables import customers as customers_table
from tally.db.prepared import Row
from tally.errors import not_found
from tally.events import service as events
from tally.exports import service as exports
from tally.exports.columns import ORDER as ORDER_EXPORT
from tally.orders import repository as orders_repository
from tally.orders import service as orders
from tally.orders.tables import orders as orders_table
from tally.redemptions import service as redemptions
from tally.redemptions.tables import redemptions as redemptions_table

PAGE_SIZE = 50
STATUSES = ("CREATED", "PAID", "CANCELED", "FULFILLED")


@dataclass(frozen=True)
class OrderFilters:
    status: str | None = None
    created_from: str | None = None  # a date or date-time, inclusive
    created_to: str | None = None  # a date (the whole day) or date-time, inclusive
    customer: str | None = None  # id or source_id
    source_id: str | None = None

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for the links of the next page)."""
        names = ("status", "created_from", "created_to", "customer", "source_id")
        return {n: v for n in names if (v := getattr(self, n))}


@dataclass
class OrdersPage:
    rows: list[Row]
    next_cursor: str | None
    problems: list[str] = field(default_factory=list)


def _when(text: str, *, end_of_day: bool) -> datetime | None:
    try:
        value = parse_datetime(text)
    except (ValueError, OverflowError):
        return None
    if end_of_day and len(text.strip()) == 10:
        value = value.replace(hour=23, minute=59, second=59, microsecond=999_000)
    return value


def cursor_of(row: Row) -> str:
    return f"{row['created_at'].isoformat()}|{row['id']}"


def _parse_cursor(text: str) -> tuple[datetime, str] | None:
    """The position :func:`cursor_of` wrote, to the microsecond (an imported order may
    carry finer times than the API makes)."""
    at, _, order_id = text.partition("|")
    try:
        # In UTC here: an offset can take a moment of year 1 or 9999 out of range.
        when = as_utc(datetime.fromisoformat(at))
    except (ValueError, OverflowError):
        return None
    return when, order_id


def orders_page(
    conn: Connection, *, project_id: str, filters: OrderFilters, cursor: str | None
) -> OrdersPage:
    """A page of the project's orders, newest first, after ``cursor`` (keyset paging)."""
    where: list[sa.ColumnElement[bool]] = []
    problems = []
    if filters.status is not None:
        if filters.status in STATUSES:
            where.append(orders_table.c.status == filters.status)
        else:
            problems.append(f"unknown status {filters.status}")
    for text, end_of_day in ((filters.created_from, False), (filters.created_to, True)):
        if text:
            when = _when(text, end_of_day=end_of_day)
            if when is None:
                problems.append(f"not a date: {text}")
            elif end_of_day:
                where.append(orders_table.c.created_at <= when)
            else:
                where.append(orders_table.c.created_at >= when)
    if filters.customer:
        person = customers_repository.get(conn, project_id, filters.customer)
        where.append(orders_table.c.customer_id == person["id"] if person else sa.false())
    if filters.source_id:
        where.append(orders_table.c.source_id == filters.source_id)
    before = _parse_cursor(cursor) if cursor else None
    rows = orders_repository.keyset_page(
        conn, project_id, where=where, before=before, limit=PAGE_SIZE + 1
    )
    next_cursor = cursor_of(rows[PAGE_SIZE - 1]) if len(rows) > PAGE_SIZE else None
    return OrdersPage(rows[:PAGE_SIZE], next_cursor, problems)


@dataclass(frozen=True)
class Stack:
    """A redemption as the order page shows it: a parent with its children (or a lone
    redemption), and the rollbacks of each."""

    redemption: Row
    children: list[Row]
    rollbacks: list[Row]


@dataclass(frozen=True)
class OrderPage:
    order: Row
    customer: Row | None
    referrer: Row | None
    timeline: list[Stack]


def order_page(conn: Connection, *, project_id: str, ref: str) -> OrderPage:
    order = orders.get(conn, project_id=project_id, ref=ref)
    entries: dict[str, Any] = order["redemptions"] or {}
    wanted: set[str] = set()
    for redemption_id, entry in entries.items():
        wanted.add(redemption_id)
        wanted.update(entry.get("stacked") or [])
        wanted.update(entry.get("rollback_stacked") or [])
        if entry.get("rollback_id"):
            wanted.add(entry["rollback_id"])
    found = common.by_ids(conn, redemptions_table, project_id, wanted) if wanted else {}
    timeline = []
    for redemption_id, entry in sorted(entries.items(), key=lambda item: item[1].get("date", "")):
        if redemption_id not in found:
            continue
        children = [found[c] for c in entry.get("stacked") or [] if c in found]
        rollback_ids = [entry.get("rollback_id"), *(entry.get("rollback_stacked") or [])]
        rollbacks = [found[r] for r in rollback_ids if r and r in found]
        timeline.append(Stack(found[redemption_id], children, rollbacks))
    people = common.by_ids(
        conn,
        customers_table,
        project_id,
        {c for c in (order["customer_id"], order["referrer_id"]) if c},
    )
    return OrderPage(
        order,
        people.get(order["customer_id"] or ""),
        people.get(order["referrer_id"] or ""),
        timeline,
    )


@dataclass(frozen=True)
class CustomerPage:
    customer: Row
    orders: list[Row]
    activity: list[Row]


def customer_page(conn: Connection, *, project_id: str, ref: str) -> CustomerPage:
    customer = customers.get(conn, project_id=project_id, ref=ref)
    recent = orders_repository.keyset_page(
        conn,
        project_id,
        where=[orders_table.c.customer_id == customer["id"]],
        before=None,
        limit=20,
    )
    activity, _ = events.customer_activity(
        conn,
        project_id=project_id,
        customer_id=customer["id"],
        limit=30,
        descending=True,
        starting_after_id=None,
        type_=None,
        start=None,
        end=None,
    )
    return CustomerPage(customer, recent, activity)


def redemptions_page(
    conn: Connection, *, project_id: str, result: str | None, page: int
) -> tuple[list[Row], int]:
    if result not in (None, "SUCCESS", "FAILURE"):
        raise not_found("result", str(result))
    return redemptions.list_page(
        conn,
        project_id=project_id,
        limit=PAGE_SIZE,
        page=page,
        order="-created_at",
        results=[result] if result else [],
        campaign=None,
        customer=None,
        created_before=None,
        created_after=None,
        conditions=[],
    )


def export_fields() -> tuple[list[str], tuple[str, ...]]:
    """Every field an order export may have (besides metadata.<key>), and the defaults."""
    return list(ORDER_EXPORT.fields), ORDER_EXPORT.default_fields


def export_filters(status: str | None, created_from: str | None, created_to: str | None) -> Any:
    """The API's export filters for what the dashboard's form asks."""
    found: dict[str, Any] = {}
    if status in STATUSES:
        found["status"] = {"conditions": {"$in": [status]}}
    dates: dict[str, str] = {}
    if created_from and (when := _when(created_from, end_of_day=False)) is not None:
        dates["$after"] = (when - timedelta(milliseconds=1)).isoformat()
    if created_to and (when := _when(created_to, end_of_day=True)) is not None:
        dates["$before"] = (when + timedelta(milliseconds=1)).isoformat()
    if dates:
        found["created_at"] = {"conditions": dates}
    return found or None


def recent_exports(conn: Connection, *, project_id: str) -> list[Row]:
    rows, _ = exports.list_page(conn, project_id=project_id, limit=20, page=1, order="-created_at")
    return rows


def recent_actions(conn: Connection, *, project_id: str) -> list[Row]:
    rows, _ = async_actions.list_page(conn, project_id=project_id, limit=50, before=None)
    return rows
