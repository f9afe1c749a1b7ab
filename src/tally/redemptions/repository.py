"""Statements for redemptions and their rollbacks."""

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.common import repository as common
from tally.db.prepared import Prepared, Row
from tally.redemptions.tables import redemptions


def get(conn: Connection, project_id: str, redemption_id: str) -> Row | None:
    return common.one_by(conn, redemptions, project_id, "id", redemption_id)


def by_ids(conn: Connection, project_id: str, redemption_ids: list[str]) -> dict[str, Row]:
    return common.by_ids(conn, redemptions, project_id, set(redemption_ids))


def insert_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Rows with the same columns, in one statement (at most 31: a request's children and
    its parent)."""
    common.insert_rows(conn, redemptions, rows)


def update(conn: Connection, project_id: str, redemption_id: str, values: dict[str, Any]) -> None:
    common.update_row(conn, redemptions, project_id, redemption_id, values)


@cache
def _mark_rolled_back() -> Prepared:
    # Only a redemption not rolled back yet: of two rollbacks racing for one redemption,
    # exactly one changes the row (BEHAVIOR 12.3).
    return Prepared(
        sa.update(redemptions)
        .where(
            redemptions.c.project_id == sa.bindparam("_project_id"),
            redemptions.c.id == sa.bindparam("_id"),
            redemptions.c.rollback_id.is_(None),
        )
        .values(status="ROLLED_BACK", rollback_id=sa.bindparam("_rollback_id"))
    )


def mark_rolled_back(
    conn: Connection, project_id: str, redemption_id: str, rollback_id: str
) -> bool:
    params = {"_project_id": project_id, "_id": redemption_id, "_rollback_id": rollback_id}
    return _mark_rolled_back().write(conn, params) == 1


def page(
    conn: Connection,
    where: list[sa.ColumnElement[bool]],
    *,
    order: tuple[str, bool],
    limit: int,
    page: int,
) -> list[Row]:
    column_name, descending = order
    column: sa.ColumnElement[Any] = redemptions.c[column_name]
    if column_name != "id":
        # NULLs sort differently on the two engines; '' puts them first on both.
        column = sa.func.coalesce(column, "") if column_name != "created_at" else column
    keys = (
        [column.desc(), redemptions.c.id.desc()]
        if descending
        else [column.asc(), redemptions.c.id.asc()]
    )
    stmt = (
        sa.select(redemptions).where(*where).order_by(*keys).limit(limit).offset((page - 1) * limit)
    )
    return list(conn.execute(stmt).mappings())


def count(conn: Connection, where: list[sa.ColumnElement[bool]]) -> int:
    stmt = sa.select(sa.func.count()).select_from(redemptions).where(*where)
    return int(conn.execute(stmt).scalar_one())


@cache
def _order_id_of() -> Prepared:
    return Prepared(
        sa.select(redemptions.c.order_id).where(
            redemptions.c.project_id == sa.bindparam("_project_id"),
            redemptions.c.id == sa.bindparam("_id"),
        )
    )


def order_id_of(conn: Connection, project_id: str, redemption_id: str) -> str | None:
    row = _order_id_of().first(conn, {"_project_id": project_id, "_id": redemption_id})
    return None if row is None or row["order_id"] is None else str(row["order_id"])
