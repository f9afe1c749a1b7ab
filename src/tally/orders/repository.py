"""Statements for orders."""

from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.common import repository as common
from tally.core.order_history import OrderState
from tally.db.base import UTCDateTime
from tally.db.prepared import Prepared, Row
from tally.orders.tables import COUNTED_STATUSES, ORDER_ID_PREFIX, orders


def get(conn: Connection, project_id: str, ref: str) -> Row | None:
    return common.by_ref(conn, orders, project_id, ref, id_prefix=ORDER_ID_PREFIX)


def get_by_id(conn: Connection, project_id: str, order_id: str) -> Row | None:
    return common.one_by(conn, orders, project_id, "id", order_id)


def get_by_source_id(conn: Connection, project_id: str, source_id: str) -> Row | None:
    return common.one_by(conn, orders, project_id, "source_id", source_id)


def insert(conn: Connection, values: dict[str, Any]) -> None:
    common.insert_row(conn, orders, values)


def insert_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    common.bulk_insert(conn, orders, rows)


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


def ids_by_source_id(conn: Connection, project_id: str, source_ids: set[str]) -> dict[str, str]:
    """The ids of the orders with these source_ids, in one statement."""
    if not source_ids:
        return {}
    rows = conn.execute(
        sa.select(orders.c.source_id, orders.c.id).where(
            orders.c.project_id == project_id, orders.c.source_id.in_(sorted(source_ids))
        )
    )
    return {source_id: order_id for source_id, order_id in rows}


@cache
def _counted_between(bounded: bool) -> Prepared:
    where = [
        orders.c.project_id == sa.bindparam("_project_id"),
        orders.c.customer_id == sa.bindparam("_customer_id"),
        orders.c.created_at >= sa.bindparam("_start", type_=orders.c.created_at.type),
        # Constants, written into the SQL: a parameter list would be compiled every time.
        orders.c.status.in_([sa.literal_column(f"'{status}'") for status in COUNTED_STATUSES]),
    ]
    if bounded:
        where.append(orders.c.created_at < sa.bindparam("_end", type_=orders.c.created_at.type))
    return Prepared(
        sa.select(
            sa.func.count().label("count"),
            sa.func.coalesce(sa.func.sum(orders.c.total_amount), 0).label("amount"),
        ).where(*where)
    )


def counted_between(
    conn: Connection, project_id: str, customer_id: str, start: datetime, end: datetime | None
) -> tuple[int, int]:
    """How many of the customer's counted orders were created at ``start`` <= t < ``end``
    (None: no end), and their total amount: the customer's orders index walked over that
    span only (a purchase-history window reads its cut days here, at most a day each)."""
    params: dict[str, Any] = {"_project_id": project_id, "_customer_id": customer_id}
    params["_start"] = start
    if end is not None:
        params["_end"] = end
    row = _counted_between(end is not None).first(conn, params)
    assert row is not None  # an aggregate always answers
    return int(row["count"]), int(row["amount"])


@cache
def _state() -> Prepared:
    return Prepared(
        sa.select(
            orders.c.customer_id, orders.c.status, orders.c.total_amount, orders.c.created_at
        ).where(
            orders.c.project_id == sa.bindparam("_project_id"), orders.c.id == sa.bindparam("_id")
        )
    )


def state(conn: Connection, project_id: str, order_id: str) -> OrderState | None:
    """What the customer's purchase history holds of the stored order (None: not stored)."""
    row = _state().first(conn, {"_project_id": project_id, "_id": order_id})
    if row is None:
        return None
    return OrderState(row["customer_id"], row["status"], row["total_amount"], row["created_at"])


def keyset_page(
    conn: Connection,
    project_id: str,
    *,
    where: list[sa.ColumnElement[bool]],
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[Row]:
    """Up to ``limit`` orders, newest first, created before the (created_at, id) position
    ``before``: a seek on the (project_id, created_at, id) index, as fast on page 1,000 as
    on page 1 (an offset would walk every order it skips)."""
    stmt = sa.select(orders).where(orders.c.project_id == project_id, *where)
    if before is not None:
        at, order_id = before
        stmt = stmt.where(
            sa.tuple_(orders.c.created_at, orders.c.id)
            < sa.tuple_(sa.literal(at, UTCDateTime()), sa.literal(order_id))
        )
    stmt = stmt.order_by(orders.c.created_at.desc(), orders.c.id.desc()).limit(limit)
    return list(conn.execute(stmt).mappings())
