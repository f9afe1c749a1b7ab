"""Statements for idempotency keys."""

from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.common import repository as common
from tally.db.prepared import Prepared, Row
from tally.idempotency.tables import idempotency_keys


def get(conn: Connection, project_id: str, key: str) -> Row | None:
    return common.one_by(conn, idempotency_keys, project_id, "key", key)


def insert(conn: Connection, values: dict[str, Any]) -> None:
    common.insert_row(conn, idempotency_keys, values)


@cache
def _forget() -> Prepared:
    t = idempotency_keys
    return Prepared(
        t.delete().where(
            t.c.project_id == sa.bindparam("_project_id"), t.c.key == sa.bindparam("_key")
        )
    )


def forget(conn: Connection, project_id: str, key: str) -> None:
    _forget().run(conn, {"_project_id": project_id, "_key": key}).close()


@cache
def _purge() -> Prepared:
    t = idempotency_keys
    oldest = (
        sa.select(t.c.project_id, t.c.key)
        .where(t.c.created_at < sa.bindparam("_before"))
        .order_by(t.c.created_at)
        .limit(sa.bindparam("_limit"))
    )
    return Prepared(t.delete().where(sa.tuple_(t.c.project_id, t.c.key).in_(oldest)))


def purge(conn: Connection, *, before: datetime, limit: int) -> None:
    """Delete at most ``limit`` keys, of any project, made before ``before``."""
    _purge().run(conn, {"_before": before, "_limit": limit}).close()
