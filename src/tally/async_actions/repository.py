"""Statements for async actions."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.async_actions.tables import async_actions
from tally.db.prepared import Row


def insert(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(async_actions.insert().values(values))


def get(conn: Connection, project_id: str, action_id: str) -> Row | None:
    return (
        conn.execute(
            sa.select(async_actions).where(
                async_actions.c.project_id == project_id, async_actions.c.id == action_id
            )
        )
        .mappings()
        .first()
    )


def update(conn: Connection, project_id: str, action_id: str, values: dict[str, Any]) -> None:
    conn.execute(
        async_actions.update()
        .where(async_actions.c.project_id == project_id, async_actions.c.id == action_id)
        .values(values)
    )


def page(
    conn: Connection, project_id: str, *, limit: int, before: datetime | None
) -> tuple[list[Row], bool]:
    """Newest first; one more row than asked tells whether there are more."""
    where = [async_actions.c.project_id == project_id]
    if before is not None:
        where.append(async_actions.c.created_at < before)
    stmt = (
        sa.select(async_actions)
        .where(*where)
        .order_by(async_actions.c.created_at.desc(), async_actions.c.id.desc())
        .limit(limit + 1)
    )
    rows: list[Row] = list(conn.execute(stmt).mappings())
    return rows[:limit], len(rows) > limit
