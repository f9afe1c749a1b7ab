"""Statements for customers."""

from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.common import repository as common
from tally.customers.tables import CUSTOMER_ID_PREFIX, customers
from tally.db.prepared import Prepared, Row
from tally.orders.tables import COUNTED_STATUSES, orders


def get(conn: Connection, project_id: str, ref: str) -> Row | None:
    return common.by_ref(conn, customers, project_id, ref, id_prefix=CUSTOMER_ID_PREFIX)


def get_by_id(conn: Connection, project_id: str, customer_id: str) -> Row | None:
    return common.one_by(conn, customers, project_id, "id", customer_id)


def get_by_source_id(conn: Connection, project_id: str, source_id: str) -> Row | None:
    return common.one_by(conn, customers, project_id, "source_id", source_id)


def insert(conn: Connection, values: dict[str, Any]) -> None:
    common.insert_row(conn, customers, values)


def update(conn: Connection, project_id: str, customer_id: str, values: dict[str, Any]) -> None:
    common.update_row(conn, customers, project_id, customer_id, values)


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


def _counted_orders(customer: sa.ColumnElement[str]) -> list[sa.ColumnElement[bool]]:
    return [
        orders.c.project_id == customers.c.project_id,
        orders.c.customer_id == customer,
        # Constants, written into the SQL: a parameter list would be compiled every time.
        orders.c.status.in_([sa.literal_column(f"'{status}'") for status in COUNTED_STATUSES]),
    ]


def _last_counted(column: sa.Column[Any]) -> sa.ScalarSelect[Any]:
    return (
        sa.select(column)
        .where(*_counted_orders(customers.c.id))
        .order_by(orders.c.created_at.desc(), orders.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


# Keyed by how many customers one request touches: one or two, rarely more.
@lru_cache(maxsize=32)
def _refresh_summaries(count: int) -> Prepared:
    """summary.orders recomputed from the orders themselves, every figure in one statement,
    for ``count`` customers."""
    return Prepared(
        customers.update()
        .where(
            customers.c.project_id == sa.bindparam("_project_id"),
            customers.c.id.in_([sa.bindparam(f"_id{i}") for i in range(count)]),
        )
        .values(
            orders_total_amount=sa.select(sa.func.coalesce(sa.func.sum(orders.c.total_amount), 0))
            .where(*_counted_orders(customers.c.id))
            .scalar_subquery(),
            orders_total_count=sa.select(sa.func.count())
            .where(*_counted_orders(customers.c.id))
            .scalar_subquery(),
            orders_last_amount=sa.func.coalesce(_last_counted(orders.c.total_amount), 0),
            orders_last_date=_last_counted(orders.c.created_at),
        )
    )


def refresh_order_summaries(conn: Connection, project_id: str, customer_ids: list[str]) -> None:
    params = {f"_id{i}": customer_id for i, customer_id in enumerate(customer_ids)}
    params["_project_id"] = project_id
    _refresh_summaries(len(customer_ids)).write(conn, params)
