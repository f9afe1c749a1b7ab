"""Statements for jobs."""

from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.db.prepared import Row
from tally.jobs.tables import jobs

_OPEN = ("queued", "running")


def insert(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(jobs.insert().values(values))


# A runner asks this every poll (each second, in every serving process): built once, with
# the time as a parameter. Built per call, its alias and clauses cost about 0.5 ms and left
# reference cycles (SQLAlchemy's event registry) for the collector.
_NOW = sa.bindparam("now", type_=jobs.c.lease_until.type)


@cache
def _runnable() -> sa.Select[Any]:
    earlier = jobs.alias("earlier")
    blocked = (
        sa.select(earlier.c.seq)
        .where(
            earlier.c.queue_key == jobs.c.queue_key,
            earlier.c.seq < jobs.c.seq,
            earlier.c.status.in_(_OPEN),
        )
        .exists()
    )
    runnable = sa.or_(
        jobs.c.status == "queued",
        sa.and_(jobs.c.status == "running", jobs.c.lease_until < _NOW),
    )
    return sa.select(jobs).where(runnable, ~blocked).order_by(jobs.c.seq).limit(1)


@cache
def _runnable_seq() -> sa.Select[Any]:
    # Only the key: a job's payload (an import's 2,000 orders) is not read to answer this.
    return _runnable().with_only_columns(jobs.c.seq)


@cache
def _claimable(skip_locked: bool) -> sa.Select[Any]:
    stmt = _runnable()
    return stmt.with_for_update(skip_locked=True, of=jobs) if skip_locked else stmt


def any_runnable(conn: Connection, *, now: datetime) -> bool:
    """Whether a job may run now: a read, so an idle runner never takes the write lock."""
    return conn.execute(_runnable_seq(), {"now": now}).first() is not None


def claim(conn: Connection, *, now: datetime) -> Row | None:
    """The first job that may run now: queued, or running with its lease run out (its
    process died), and no earlier open job with its queue key. On PostgreSQL a row another
    claimer holds is skipped, so workers never wait on each other; SQLite has one writer,
    so its claims simply take turns."""
    stmt = _claimable(conn.dialect.name != "sqlite")
    row = conn.execute(stmt, {"now": now}).mappings().first()
    return row


def update(
    conn: Connection, seq: int, values: dict[str, Any], *, worker: str | None = None
) -> bool:
    """Change a job; with ``worker``, only while that worker still holds it (a worker whose
    lease ran out and was taken over must not write over the new holder)."""
    stmt = jobs.update().where(jobs.c.seq == seq)
    if worker is not None:
        stmt = stmt.where(jobs.c.worker == worker, jobs.c.status == "running")
    return conn.execute(stmt.values(values)).rowcount == 1


def get(conn: Connection, seq: int) -> Row | None:
    return conn.execute(sa.select(jobs).where(jobs.c.seq == seq)).mappings().first()


def by_subject(conn: Connection, project_id: str, subject_id: str) -> Row | None:
    return (
        conn.execute(
            sa.select(jobs).where(jobs.c.project_id == project_id, jobs.c.subject_id == subject_id)
        )
        .mappings()
        .first()
    )
