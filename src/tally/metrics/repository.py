"""What the database holds that an operator watches: the job queue and webhook deliveries.

Read at scrape time, so every process reports the same figures whichever of them a scrape
reaches. Each query is bounded by an index (only open jobs, pending deliveries and the
events deliverers have yet to send are read row by row), so a scrape stays cheap as
history grows.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.events.repository import past
from tally.events.tables import events
from tally.jobs.tables import jobs
from tally.webhooks.service import ALL_EVENTS
from tally.webhooks.tables import webhook_deliveries, webhooks


@dataclass(frozen=True)
class JobQueue:
    kind: str
    status: str  # queued, running
    count: int
    oldest: datetime | None  # the oldest such job's creation


@dataclass(frozen=True)
class Deliveries:
    # Deliveries not yet made: retries waiting, and first tries (events after an active
    # endpoint's cursor that it wants).
    pending: int
    retrying: int  # pending after at least one failed try
    oldest_due: datetime | None  # the earliest due try (a first try is due at its event)
    disabled_endpoints: int
    # The oldest event an active endpoint's cursor has not passed (its try not yet ended
    # and recorded): how far behind the deliverers are (None: none behind).
    oldest_unrelayed: datetime | None


def job_queue(conn: Connection) -> list[JobQueue]:
    rows = conn.execute(
        sa.select(jobs.c.kind, jobs.c.status, sa.func.count(), sa.func.min(jobs.c.created_at))
        .where(jobs.c.status.in_(("queued", "running")))
        .group_by(jobs.c.kind, jobs.c.status)
    )
    return [JobQueue(kind, status, count, oldest) for kind, status, count, oldest in rows]


def failed_jobs(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        sa.select(jobs.c.kind, sa.func.count())
        .where(jobs.c.status == "failed")
        .group_by(jobs.c.kind)
    )
    return {kind: count for kind, count in rows}


def deliveries(conn: Connection) -> Deliveries:
    # status = 'pending' literally, so SQLite uses the partial index of pending deliveries.
    pending, retrying, oldest = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(webhook_deliveries.c.attempts > 0),
            sa.func.min(webhook_deliveries.c.next_attempt_at),
        ).where(webhook_deliveries.c.status == sa.literal_column("'pending'"))
    ).one()
    disabled = conn.execute(
        sa.select(sa.func.count()).select_from(webhooks).where(webhooks.c.active.is_(False))
    ).scalar_one()
    # A delivery's first try has no row until it has ended: the events after an active
    # endpoint's cursor that it wants are deliveries not yet made, each due since its event.
    unsent, oldest_unsent, oldest_unrelayed = _unsent(conn)
    return Deliveries(
        pending + unsent,
        retrying,
        _earliest(oldest, oldest_unsent),
        disabled,
        oldest_unrelayed,
    )


def _earliest(*times: datetime | None) -> datetime | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


# Unsent events counted per endpoint at most: a scrape reads this many rows an endpoint
# whatever the backlog (a deliverer down for hours leaves millions), so the pending gauge
# saturates here; the relay lag, from the oldest of them, stays exact.
UNSENT_COUNTED = 10_000


def _unsent(conn: Connection) -> tuple[int, datetime | None, datetime | None]:
    """The events after the cursors of active endpoints, up to UNSENT_COUNTED each: how
    many they want, the oldest they want, the oldest of any type. One bounded index range
    per endpoint cursor (events by project and position)."""
    endpoints = conn.execute(
        sa.select(
            webhooks.c.project_id,
            webhooks.c.events,
            webhooks.c.cursor_txid,
            webhooks.c.cursor_seq,
        ).where(webhooks.c.active.is_(True))
    ).all()
    count, oldest_wanted, oldest = 0, None, None
    # Endpoints of one project at one cursor share their range: read once.
    ranges: dict[tuple[str, int, int], list[Any]] = {}
    for project_id, wanted, cursor_txid, cursor_seq in endpoints:
        key = (project_id, cursor_txid, cursor_seq)
        by_type = ranges.get(key)
        if by_type is None:
            window = (
                sa.select(events.c.type, events.c.created_at)
                .where(events.c.project_id == project_id, past(conn, (cursor_txid, cursor_seq)))
                .order_by(events.c.txid, events.c.seq)
                .limit(UNSENT_COUNTED)
                .subquery()
            )
            by_type = ranges[key] = list(
                conn.execute(
                    sa.select(
                        window.c.type, sa.func.count(), sa.func.min(window.c.created_at)
                    ).group_by(window.c.type)
                ).all()
            )
        for type_, n, first in by_type:
            oldest = _earliest(oldest, first)
            if ALL_EVENTS in wanted or type_ in wanted:
                count += n
                oldest_wanted = _earliest(oldest_wanted, first)
    return count, oldest_wanted, oldest
