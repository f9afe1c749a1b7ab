"""Statement helpers every domain's repository shares."""

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

# Statements are built once per table and reused with bound parameters: SQLAlchemy then
# skips statement construction and cache-key generation, which otherwise cost more than
# SQLite's own work on these one-row lookups (measured with cProfile on order create).


@cache
def _select_one(table: sa.Table, column: str) -> sa.Select[Any]:
    return sa.select(table).where(
        table.c.project_id == sa.bindparam("_project_id"),
        table.c[column] == sa.bindparam("_value"),
    )


@cache
def _select_many(table: sa.Table, column: str) -> sa.Select[Any]:
    project: sa.ColumnElement[Any] = table.c.project_id
    if column == "id":
        # Still scoped to the project, but written so no planner reads it through an index:
        # without statistics SQLite otherwise walks every row of the project's
        # (project_id, ...) index instead of looking the ids up by primary key.
        project = sa.func.coalesce(table.c.project_id, "")
    return sa.select(table).where(
        project == sa.bindparam("_project_id"),
        table.c[column].in_(sa.bindparam("_values", expanding=True)),
    )


@cache
def _insert(table: sa.Table) -> sa.Insert:
    return table.insert()


@cache
def _update(table: sa.Table) -> sa.Update:
    return table.update().where(
        table.c.project_id == sa.bindparam("_project_id"),
        table.c.id == sa.bindparam("_row_id"),
    )


def one_by(
    conn: Connection, table: sa.Table, project_id: str, column: str, value: str
) -> RowMapping | None:
    params = {"_project_id": project_id, "_value": value}
    return conn.execute(_select_one(table, column), params).mappings().first()


def by_ref(conn: Connection, table: sa.Table, project_id: str, ref: str) -> RowMapping | None:
    """A row named by its Tally id or, failing that, its source_id (BEHAVIOR 3.4), always
    inside the caller's project."""
    row = one_by(conn, table, project_id, "id", ref)
    if row is None:
        row = one_by(conn, table, project_id, "source_id", ref)
    return row


def _many_by(
    conn: Connection, table: sa.Table, project_id: str, column: str, values: set[str]
) -> dict[str, RowMapping]:
    if not values:
        return {}
    params = {"_project_id": project_id, "_values": sorted(values)}
    rows = conn.execute(_select_many(table, column), params).mappings()
    return {row[column]: row for row in rows}


def by_source_ids(
    conn: Connection, table: sa.Table, project_id: str, source_ids: set[str]
) -> dict[str, RowMapping]:
    return _many_by(conn, table, project_id, "source_id", source_ids)


def by_ids(
    conn: Connection, table: sa.Table, project_id: str, ids_: set[str]
) -> dict[str, RowMapping]:
    return _many_by(conn, table, project_id, "id", ids_)


def insert_row(conn: Connection, table: sa.Table, values: dict[str, Any]) -> None:
    conn.execute(_insert(table), values)


def update_row(
    conn: Connection, table: sa.Table, project_id: str, row_id: str, values: dict[str, Any]
) -> None:
    if not values:
        return
    conn.execute(_update(table), {**values, "_project_id": project_id, "_row_id": row_id})


SORTS = {
    "created_at": ("created_at", False),
    "-created_at": ("created_at", True),
    "updated_at": ("updated_at", False),
    "-updated_at": ("updated_at", True),
    "source_id": ("source_id", False),
    "-source_id": ("source_id", True),
}


def page_rows(
    conn: Connection,
    table: sa.Table,
    where: list[sa.ColumnElement[bool]],
    *,
    order: str,
    limit: int,
    page: int,
) -> list[RowMapping]:
    """One page in one statement, walking a (project_id, sort key, id) index.

    Measured on SQLite with 1,000,000 orders: about 1 ms for page 1 and 3 ms for page 100 of
    100 (SQLite defers the row lookup of skipped entries). A page of ids first and the rows
    by `id IN (...)` second was slower: without statistics SQLite reads those ids through
    the project index, 35 ms at 100,000 orders."""
    column_name, descending = SORTS[order]
    column: sa.ColumnElement[Any] = table.c[column_name]
    if column_name == "updated_at":
        # Never-updated rows sort by their creation time, the same on both engines.
        column = sa.func.coalesce(table.c.updated_at, table.c.created_at)
    elif column_name == "source_id":
        # NULLs sort differently on the two engines; '' puts them first on both.
        column = sa.func.coalesce(table.c.source_id, "")
    keys = [column.desc(), table.c.id.desc()] if descending else [column.asc(), table.c.id.asc()]
    stmt = sa.select(table).where(*where).order_by(*keys).limit(limit).offset((page - 1) * limit)
    return list(conn.execute(stmt).mappings())
