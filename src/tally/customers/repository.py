"""Statements for customers."""

from datetime import date
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from tally.common import repository as common
from tally.core.order_history import Change
from tally.customers.tables import CUSTOMER_ID_PREFIX, customer_order_days, customers
from tally.db.prepared import Prepared, Row
from tally.orders.tables import COUNTED_STATUSES, orders


def get(conn: Connection, project_id: str, ref: str) -> Row | None:
    return common.by_ref(conn, customers, project_id, ref, id_prefix=CUSTOMER_ID_PREFIX)


def get_by_id(conn: Connection, project_id: str, customer_id: str) -> Row | None:
    return common.one_by(conn, customers, project_id, "id", customer_id)


def get_by_source_id(conn: Connection, project_id: str, source_id: str) -> Row | None:
    return common.one_by(conn, customers, project_id, "source_id", source_id)


def by_source_ids(conn: Connection, project_id: str, source_ids: set[str]) -> dict[str, Row]:
    """The customers with these source_ids, in one statement."""
    return common.by_source_ids(conn, customers, project_id, source_ids)


def insert(conn: Connection, values: dict[str, Any]) -> None:
    common.insert_row(conn, customers, values)


def insert_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    common.bulk_insert(conn, customers, rows)


def update(conn: Connection, project_id: str, customer_id: str, values: dict[str, Any]) -> None:
    common.update_row(conn, customers, project_id, customer_id, values)


def update_many(
    conn: Connection, project_id: str, changes: list[tuple[str, dict[str, Any]]]
) -> None:
    common.update_rows(conn, customers, project_id, changes)


def delete(conn: Connection, project_id: str, customer_id: str) -> None:
    conn.execute(
        customers.delete().where(
            customers.c.project_id == project_id, customers.c.id == customer_id
        )
    )


def page(
    conn: Connection,
    project_id: str,
    *,
    order: str,
    limit: int,
    page: int,
    filters: list[sa.ColumnElement[bool]],
) -> list[Row]:
    where = [customers.c.project_id == project_id, *filters]
    return common.page_rows(conn, customers, where, order=order, limit=limit, page=page)


def count(conn: Connection, project_id: str, filters: list[sa.ColumnElement[bool]]) -> int:
    stmt = sa.select(sa.func.count()).where(customers.c.project_id == project_id, *filters)
    return int(conn.execute(stmt).scalar_one())


def lock(conn: Connection, project_id: str, customer_ids: list[str]) -> None:
    """Serialise summary refreshes of these customers across transactions (PostgreSQL row
    locks, taken in id order; SQLite has one writer). FOR NO KEY UPDATE, because each writer
    already holds the FOR KEY SHARE lock that its order's foreign key took on the row: two
    FOR UPDATE requests on top of those would deadlock."""
    if conn.dialect.name == "sqlite":
        return
    conn.execute(
        sa.select(customers.c.id)
        .where(customers.c.project_id == project_id, customers.c.id.in_(customer_ids))
        .order_by(customers.c.id)
        .with_for_update(key_share=True)
    ).all()


def lock_to_delete(conn: Connection, project_id: str, customer_id: str) -> None:
    """PostgreSQL: the row locked FOR UPDATE before a delete unlinks the customer's orders,
    so an order inserted for them meanwhile commits first (and is unlinked too) instead of
    failing the delete on its foreign key."""
    if conn.dialect.name == "sqlite":
        return
    conn.execute(
        sa.select(customers.c.id)
        .where(customers.c.project_id == project_id, customers.c.id == customer_id)
        .with_for_update()
    ).all()


def _counted_orders(customer: sa.ColumnElement[str]) -> list[sa.ColumnElement[bool]]:
    return [
        orders.c.project_id == customers.c.project_id,
        orders.c.customer_id == customer,
        # Constants, written into the SQL: a parameter list would be compiled every time.
        orders.c.status.in_([sa.literal_column(f"'{status}'") for status in COUNTED_STATUSES]),
    ]


def _last_counted(column: sa.Column[Any]) -> sa.ScalarSelect[Any]:
    """The customer's newest counted order's ``column``: a walk of the customer's orders
    index from the newest end, stopping at the first counted one."""
    return (
        sa.select(column)
        .where(*_counted_orders(customers.c.id))
        .order_by(orders.c.created_at.desc(), orders.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


@cache
def _add_to_summary() -> Prepared:
    """summary.orders moved by the counts an order write changed; the last order read
    again from the index (it may be the order just written, or the one before it)."""
    return Prepared(
        customers.update()
        .where(
            customers.c.project_id == sa.bindparam("_project_id"),
            customers.c.id == sa.bindparam("_id"),
        )
        .values(
            orders_total_count=customers.c.orders_total_count + sa.bindparam("_count"),
            orders_total_amount=customers.c.orders_total_amount + sa.bindparam("_amount"),
            orders_last_amount=sa.func.coalesce(_last_counted(orders.c.total_amount), 0),
            orders_last_date=_last_counted(orders.c.created_at),
        )
    )


def add_to_summary(
    conn: Connection, project_id: str, customer_id: str, count: int, amount: int
) -> None:
    _add_to_summary().write(
        conn, {"_project_id": project_id, "_id": customer_id, "_count": count, "_amount": amount}
    )


def add_to_summaries(conn: Connection, project_id: str, deltas: list[tuple[str, int, int]]) -> None:
    """:func:`add_to_summary` for each (customer id, count, amount), in one driver call."""
    _add_to_summary().write_many(
        conn,
        [
            {"_project_id": project_id, "_id": customer_id, "_count": count, "_amount": amount}
            for customer_id, count, amount in deltas
        ],
    )


# summary.redemptions' stored counters, in the order RedemptionCounts lists them.
REDEMPTION_COUNTERS = (
    "redemptions_total_succeeded",
    "redemptions_total_failed",
    "redemptions_total_rollback_succeeded",
    "redemptions_total_rollback_failed",
)


@cache
def _add_to_redemptions() -> Prepared:
    """summary.redemptions moved by deltas in the database itself (n = n + delta): two
    transactions counting for one customer at once both land, whatever they read."""
    return Prepared(
        customers.update()
        .where(
            customers.c.project_id == sa.bindparam("_project_id"),
            customers.c.id == sa.bindparam("_id"),
        )
        .values(
            {name: customers.c[name] + sa.bindparam(f"_{name}") for name in REDEMPTION_COUNTERS}
        )
    )


def add_to_redemptions(
    conn: Connection, project_id: str, deltas: list[tuple[str, tuple[int, int, int, int]]]
) -> None:
    """Each (customer id, deltas of REDEMPTION_COUNTERS) added, in one driver call."""
    _add_to_redemptions().write_many(
        conn,
        [
            {
                "_project_id": project_id,
                "_id": customer_id,
                **{
                    f"_{name}": delta
                    for name, delta in zip(REDEMPTION_COUNTERS, counts, strict=True)
                },
            }
            for customer_id, counts in deltas
        ],
    )


@cache
def _add_to_day(dialect: str) -> Prepared:
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    stmt = insert(customer_order_days).values(
        {
            name: sa.bindparam(name)
            for name in ("customer_id", "day", "project_id", "orders_count", "orders_amount")
        }
    )
    return Prepared(
        stmt.on_conflict_do_update(
            index_elements=["customer_id", "day"],
            set_={
                "orders_count": customer_order_days.c.orders_count + stmt.excluded.orders_count,
                "orders_amount": customer_order_days.c.orders_amount + stmt.excluded.orders_amount,
            },
        )
    )


def insert_days(conn: Connection, project_id: str, found: list[Change]) -> None:
    """Day buckets of customers that have none yet (made in this transaction), inserted."""
    common.bulk_insert(conn, customer_order_days, _day_rows(project_id, found))


def _day_rows(project_id: str, found: list[Change]) -> list[dict[str, Any]]:
    return [
        {
            "customer_id": change.customer_id,
            "day": change.day,
            "project_id": project_id,
            "orders_count": change.count,
            "orders_amount": change.amount,
        }
        for change in found
    ]


def add_to_days(conn: Connection, project_id: str, found: list[Change]) -> None:
    """Each change added to its day bucket (made when it is the day's first purchase)."""
    _add_to_day(conn.dialect.name).write_many(conn, _day_rows(project_id, found))


@cache
def _sum_days(from_first: bool, to_last: bool) -> Prepared:
    where = [
        customer_order_days.c.customer_id == sa.bindparam("_id"),
        customer_order_days.c.project_id == sa.bindparam("_project_id"),
    ]
    if from_first:
        where.append(customer_order_days.c.day >= sa.bindparam("_first", type_=sa.Date))
    if to_last:
        where.append(customer_order_days.c.day <= sa.bindparam("_last", type_=sa.Date))
    return Prepared(
        sa.select(
            sa.func.coalesce(sa.func.sum(customer_order_days.c.orders_count), 0).label("count"),
            sa.func.coalesce(sa.func.sum(customer_order_days.c.orders_amount), 0).label("amount"),
        ).where(*where)
    )


def sum_days(
    conn: Connection, project_id: str, customer_id: str, first: date | None, last: date | None
) -> tuple[int, int]:
    """The purchases of the days ``first``..``last`` (inclusive; None: from the oldest, up
    to the newest)."""
    params: dict[str, Any] = {"_id": customer_id, "_project_id": project_id}
    if first is not None:
        params["_first"] = first
    if last is not None:
        params["_last"] = last
    row = _sum_days(first is not None, last is not None).first(conn, params)
    assert row is not None  # an aggregate always answers
    return int(row["count"]), int(row["amount"])


def delete_days(conn: Connection, project_id: str, customer_id: str) -> None:
    conn.execute(
        customer_order_days.delete().where(
            customer_order_days.c.project_id == project_id,
            customer_order_days.c.customer_id == customer_id,
        )
    )
