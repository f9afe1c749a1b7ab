"""Statements for projects and their counters."""

import random
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.db.engine import before_commit
from tally.db.prepared import Prepared, Row
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


def rate_limit(conn: Connection, project_id: str) -> tuple[float | None, int | None]:
    """The project's own rate limit: (requests a second, burst); None where unset."""
    row = conn.execute(
        sa.select(projects.c.rate_limit_per_second, projects.c.rate_limit_burst).where(
            projects.c.id == project_id
        )
    ).first()
    return (row[0], row[1]) if row else (None, None)


def set_rate_limit(
    conn: Connection, project_id: str, per_second: float | None, burst: int | None
) -> None:
    conn.execute(
        projects.update()
        .where(projects.c.id == project_id)
        .values(rate_limit_per_second=per_second, rate_limit_burst=burst)
    )


def dashboard_key(conn: Connection, project_id: str) -> tuple[str, str, str | None] | None:
    """(name, stored token hash, display currency) of a project: what signs its dashboard
    sessions, and how its pages print money."""
    row = conn.execute(
        sa.select(projects.c.name, projects.c.app_token_hash, projects.c.currency).where(
            projects.c.id == project_id
        )
    ).first()
    return (row[0], row[1], row[2]) if row else None


def set_currency(conn: Connection, project_id: str, currency: str | None) -> None:
    conn.execute(projects.update().where(projects.c.id == project_id).values(currency=currency))


_STACKING = Prepared(
    sa.select(projects.c.stacking_rules).where(projects.c.id == sa.bindparam("_id"))
)


def stacking_rules(conn: Connection, project_id: str) -> dict[str, Any] | None:
    row = _STACKING.first(conn, {"_id": project_id})
    return row["stacking_rules"] if row is not None else None


def set_stacking_rules(conn: Connection, project_id: str, rules: dict[str, Any]) -> None:
    conn.execute(projects.update().where(projects.c.id == project_id).values(stacking_rules=rules))


def list_projects(conn: Connection) -> list[Row]:
    stmt = sa.select(
        projects.c.id, projects.c.name, projects.c.app_id, projects.c.created_at
    ).order_by(projects.c.created_at)
    return list(conn.execute(stmt).mappings())


# Every counter of a project shard in one statement; a name without a delta adds 0.
_BUMP = Prepared(
    counters.update()
    .where(
        counters.c.project_id == sa.bindparam("_project_id"),
        counters.c.shard == sa.bindparam("_shard"),
    )
    .values(
        value=counters.c.value
        + sa.case(
            *((counters.c.name == name, sa.bindparam(f"_{name}")) for name in COUNTED),
            else_=0,
        )
    )
)

_DELTAS = "tally.counter_deltas"


def bump(conn: Connection, project_id: str, name: str, delta: int) -> None:
    """Add ``delta`` to a counter when the transaction commits: all of a request's changes
    to a project's counters go out as one statement (on SQLite, all of a batch's)."""
    if name not in COUNTED:
        raise ValueError(f"unknown counter {name}")
    deltas: dict[str, dict[str, int]] = conn.info.setdefault(_DELTAS, {})
    per_project = deltas.setdefault(project_id, dict.fromkeys(COUNTED, 0))
    per_project[name] += delta
    before_commit(conn, _DELTAS, _flush)


def pending(conn: Connection) -> dict[str, dict[str, int]]:
    """A copy of the counter changes this transaction has not written yet: a savepoint that
    rolls back puts them back with :func:`restore` (they live beside the transaction, so a
    rollback to a savepoint does not undo them)."""
    return {p: dict(d) for p, d in conn.info.get(_DELTAS, {}).items()}


def restore(conn: Connection, saved: dict[str, dict[str, int]]) -> None:
    conn.info[_DELTAS] = {p: dict(d) for p, d in saved.items()}


def _flush(conn: Connection) -> None:
    for project_id, per_project in conn.info.pop(_DELTAS, {}).items():
        if not any(per_project.values()):
            continue
        # A random shard: concurrent writers on PostgreSQL rarely meet on one row.
        params: dict[str, Any] = {f"_{name}": delta for name, delta in per_project.items()}
        params.update(_project_id=project_id, _shard=random.randrange(COUNTER_SHARDS))
        _BUMP.write(conn, params)


def count(conn: Connection, project_id: str, name: str) -> int:
    value = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(counters.c.value), 0)).where(
            counters.c.project_id == project_id, counters.c.name == name
        )
    ).scalar_one()
    return int(value)
