"""Statements for exports."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.db.prepared import Row
from tally.exports.tables import exports


def insert(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(exports.insert().values(values))


def get(conn: Connection, project_id: str, export_id: str) -> Row | None:
    return (
        conn.execute(
            sa.select(exports).where(exports.c.project_id == project_id, exports.c.id == export_id)
        )
        .mappings()
        .first()
    )


def get_any_project(conn: Connection, export_id: str) -> Row | None:
    """By id alone: a download presents the export's token instead of a project's keys."""
    return conn.execute(sa.select(exports).where(exports.c.id == export_id)).mappings().first()


def update(conn: Connection, project_id: str, export_id: str, values: dict[str, Any]) -> bool:
    result = conn.execute(
        exports.update()
        .where(exports.c.project_id == project_id, exports.c.id == export_id)
        .values(values)
    )
    return bool(result.rowcount)


def delete(conn: Connection, project_id: str, export_id: str) -> bool:
    result = conn.execute(
        exports.delete().where(exports.c.project_id == project_id, exports.c.id == export_id)
    )
    return bool(result.rowcount)


def page(
    conn: Connection, project_id: str, *, order: str, limit: int, page: int
) -> tuple[list[Row], int]:
    column = exports.c[order.lstrip("-")]
    keys = [column, exports.c.id]
    ordered = [key.desc() for key in keys] if order.startswith("-") else keys
    where = exports.c.project_id == project_id
    rows: list[Row] = list(
        conn.execute(
            sa.select(exports)
            .where(where)
            .order_by(*ordered)
            .limit(limit)
            .offset((page - 1) * limit)
        ).mappings()
    )
    total = conn.execute(sa.select(sa.func.count()).select_from(exports).where(where)).scalar_one()
    return rows, int(total)
