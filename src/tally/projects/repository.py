"""Statements for projects and their counters."""

import random
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from tally.projects.tables import COUNTER_SHARDS, counters, projects

COUNTED = ("orders", "customers", "products")


def insert_project(
    conn: Connection, *, project_id: str, name: str, app_id: str, token_hash: str, now: datetime
) -> None:
    conn.execute(
        projects.insert().values(
            id=project_id, name=name, app_id=app_id, app_token_hash=token_hash, created_at=now
        )
    )
    conn.execute(
        counters.insert(),
        [
            {"project_id": project_id, "name": name_, "shard": shard, "value": 0}
            for name_ in COUNTED
            for shard in range(COUNTER_SHARDS)
        ],
    )


def find_credentials(conn: Connection, app_id: str) -> tuple[str, str] | None:
    row = conn.execute(
        sa.select(projects.c.id, projects.c.app_token_hash).where(projects.c.app_id == app_id)
    ).first()
    return (row[0], row[1]) if row else None


def list_projects(conn: Connection) -> list[RowMapping]:
    stmt = sa.select(
        projects.c.id, projects.c.name, projects.c.app_id, projects.c.created_at
    ).order_by(projects.c.created_at)
    return list(conn.execute(stmt).mappings())


_BUMP = (
    counters.update()
    .where(
        counters.c.project_id == sa.bindparam("_project_id"),
        counters.c.name == sa.bindparam("_name"),
        counters.c.shard == sa.bindparam("_shard"),
    )
    .values(value=counters.c.value + sa.bindparam("_delta"))
)


def bump(conn: Connection, project_id: str, name: str, delta: int) -> None:
    # A random shard: concurrent writers on PostgreSQL rarely meet on one row.
    conn.execute(
        _BUMP,
        {
            "_project_id": project_id,
            "_name": name,
            "_shard": random.randrange(COUNTER_SHARDS),
            "_delta": delta,
        },
    )


def count(conn: Connection, project_id: str, name: str) -> int:
    value = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(counters.c.value), 0)).where(
            counters.c.project_id == project_id, counters.c.name == name
        )
    ).scalar_one()
    return int(value)
