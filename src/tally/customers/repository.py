"""Statements for customers."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from tally.common import repository as common
from tally.customers.tables import customers
from tally.orders.tables import COUNTED_STATUSES, orders


def get(conn: Connection, project_id: str, ref: str) -> RowMapping | None:
    return common.by_ref(conn, customers, project_id, ref)


def get_by_id(conn: Connection, project_id: str, customer_id: str) -> RowMapping | None:
    return common.one_by(conn, customers, project_id, "id", customer_id)


def get_by_source_id(conn: Connection, project_id: str, source_id: str) -> RowMapping | None:
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
) -> list[RowMapping]:
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
        orders.c.status.in_(COUNTED_STATUSES),
    ]


def _last_counted(column: sa.Column[Any]) -> sa.ScalarSelect[Any]:
    return (
        sa.select(column)
        .where(*_counted_orders(customers.c.id))
        .order_by(orders.c.created_at.desc(), orders.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


# summary.orders recomputed from the orders themselves, every figure in one statement.
_REFRESH_SUMMARY = (
    customers.update()
    .where(
        customers.c.project_id == sa.bindparam("_project_id"),
        customers.c.id.in_(sa.bindparam("_ids", expanding=True)),
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
    conn.execute(_REFRESH_SUMMARY, {"_project_id": project_id, "_ids": customer_ids})
