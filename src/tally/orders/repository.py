"""Statements for orders."""

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.common import repository as common
from tally.db.prepared import Prepared, Row
from tally.orders.tables import ORDER_ID_PREFIX, orders


def get(conn: Connection, project_id: str, ref: str) -> Row | None:
    return common.by_ref(conn, orders, project_id, ref, id_prefix=ORDER_ID_PREFIX)


def get_by_id(conn: Connection, project_id: str, order_id: str) -> Row | None:
    return common.one_by(conn, orders, project_id, "id", order_id)


def get_by_source_id(conn: Connection, project_id: str, source_id: str) -> Row | None:
    return common.one_by(conn, orders, project_id, "source_id", source_id)


def insert(conn: Connection, values: dict[str, Any]) -> None:
    common.insert_row(conn, orders, values)


def update(conn: Connection, project_id: str, order_id: str, values: dict[str, Any]) -> None:
    common.update_row(conn, orders, project_id, order_id, values)


def page(conn: Connection, project_id: str, *, order: str, limit: int, page: int) -> list[Row]:
    return common.page_rows(
        conn, orders, [orders.c.project_id == project_id], order=order, limit=limit, page=page
    )


@cache
def _locked() -> Prepared:
    # PostgreSQL: the row stays locked until commit, so two requests that change one
    # order's discounts run one after the other. SQLite has no FOR UPDATE (and needs none:
    # its writers already take turns).
    return Prepared(
        sa.select(orders)
        .where(
            orders.c.project_id == sa.bindparam("_project_id"), orders.c.id == sa.bindparam("_id")
        )
        .with_for_update()
    )


def lock(conn: Connection, project_id: str, order_id: str) -> Row | None:
    """The order, read again and locked for the rest of the transaction."""
    return _locked().first(conn, {"_project_id": project_id, "_id": order_id})


@cache
def _id_by(column: str) -> Prepared:
    return Prepared(
        sa.select(orders.c.id).where(
            orders.c.project_id == sa.bindparam("_project_id"),
            orders.c[column] == sa.bindparam("_value"),
        )
    )


def id_of(conn: Connection, project_id: str, ref: str, *, as_id: bool) -> str | None:
    """The id of the order ``ref`` names: its id when ``as_id`` and one has it, else the
    order whose source_id it is (the lookup order of :func:`get`)."""
    params = {"_project_id": project_id, "_value": ref}
    row = _id_by("id").first(conn, params) if as_id else None
    if row is None:
        row = _id_by("source_id").first(conn, params)
    return None if row is None else str(row["id"])


def purchase_history(
    conn: Connection,
    project_id: str,
    customer_id: str,
    *,
    after: Any,
    before: Any,
    counted: tuple[str, ...],
    leave_out: str | None,
) -> tuple[int, int]:
    """How many of the customer's orders with a counted status were created in the window,
    and their total amount, the order ``leave_out`` not included. Walks the customer's
    (project_id, customer_id, created_at) index over the window only."""
    where = [
        orders.c.project_id == project_id,
        orders.c.customer_id == customer_id,
        orders.c.status.in_(counted),
    ]
    if after is not None:
        where.append(orders.c.created_at > after)
    if before is not None:
        where.append(orders.c.created_at < before)
    if leave_out is not None:
        where.append(orders.c.id != leave_out)
    stmt = sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(orders.c.total_amount), 0)
    ).where(*where)
    count, amount = conn.execute(stmt).one()
    return int(count), int(amount)
