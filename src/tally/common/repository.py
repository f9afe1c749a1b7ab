"""Statement helpers every domain's repository shares."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping


def by_ref(conn: Connection, table: sa.Table, project_id: str, ref: str) -> RowMapping | None:
    """A row named by its Tally id or, failing that, its source_id (BEHAVIOR 3.4), always
    inside the caller's project."""
    row = (
        conn.execute(sa.select(table).where(table.c.project_id == project_id, table.c.id == ref))
        .mappings()
        .first()
    )
    if row is None:
        row = (
            conn.execute(
                sa.select(table).where(table.c.project_id == project_id, table.c.source_id == ref)
            )
            .mappings()
            .first()
        )
    return row


def by_source_ids(
    conn: Connection, table: sa.Table, project_id: str, source_ids: set[str]
) -> dict[str, RowMapping]:
    if not source_ids:
        return {}
    rows = conn.execute(
        sa.select(table).where(
            table.c.project_id == project_id, table.c.source_id.in_(sorted(source_ids))
        )
    ).mappings()
    return {row["source_id"]: row for row in rows}


def by_ids(
    conn: Connection, table: sa.Table, project_id: str, ids_: set[str]
) -> dict[str, RowMapping]:
    if not ids_:
        return {}
    rows = conn.execute(
        sa.select(table).where(table.c.project_id == project_id, table.c.id.in_(sorted(ids_)))
    ).mappings()
    return {row["id"]: row for row in rows}


def update_row(
    conn: Connection, table: sa.Table, project_id: str, row_id: str, values: dict[str, Any]
) -> None:
    conn.execute(
        table.update()
        .where(table.c.project_id == project_id, table.c.id == row_id)
        .values(**values)
    )


SORTS = {
    "created_at": ("created_at", False),
    "-created_at": ("created_at", True),
    "updated_at": ("updated_at", False),
    "-updated_at": ("updated_at", True),
    "source_id": ("source_id", False),
    "-source_id": ("source_id", True),
}


def page_ids(
    conn: Connection,
    table: sa.Table,
    where: list[sa.ColumnElement[bool]],
    *,
    order: str,
    limit: int,
    page: int,
) -> list[str]:
    """The ids of one page, found on the covering (project_id, sort, id) index before any row
    is read, so a deep page costs an index walk rather than row fetches."""
    column_name, descending = SORTS[order]
    column: sa.ColumnElement[Any] = table.c[column_name]
    if column_name == "updated_at":
        # Never-updated rows sort by their creation time, the same on both engines.
        column = sa.func.coalesce(table.c.updated_at, table.c.created_at)
    elif column_name == "source_id":
        # NULLs sort differently on the two engines; '' puts them first on both.
        column = sa.func.coalesce(table.c.source_id, "")
    keys = [column.desc(), table.c.id.desc()] if descending else [column.asc(), table.c.id.asc()]
    stmt = (
        sa.select(table.c.id).where(*where).order_by(*keys).limit(limit).offset((page - 1) * limit)
    )
    return [row[0] for row in conn.execute(stmt)]


def fetch_in_order(
    conn: Connection, table: sa.Table, project_id: str, ids_: list[str]
) -> list[RowMapping]:
    found = by_ids(conn, table, project_id, set(ids_))
    return [found[i] for i in ids_ if i in found]
