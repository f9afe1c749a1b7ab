"""What the database holds that an operator watches: the job queue and webhook deliveries.

Read at scrape time, so every process reports the same figures whichever of them a scrape
reaches. Each query is bounded by an index on status (only open jobs and pending
deliveries are read row by row), so a scrape stays cheap as history grows.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.events.repository import past
from tally.events.tables import events
from tally.jobs.tables import jobs
from tally.webhooks.tables import webhook_deliveries, webhooks


@dataclass(frozen=True)
class JobQueue:
    kind: str
    status: str  # queued, running
    count: int
    oldest: datetime | None  # the oldest such job's creation


@dataclass(frozen=True)
class Deliveries:
    pending: int
    retrying: int  # pending after at least one failed try
    oldest_due: datetime | None  # the earliest next try of a pending delivery
    disabled_endpoints: int
    # The oldest event an active endpoint has not had its delivery made for yet: how far
    # behind the deliverers are (None: none behind).
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
    return Deliveries(pending, retrying, oldest, disabled, _oldest_unrelayed(conn))


def _oldest_unrelayed(conn: Connection) -> datetime | None:
    # One index probe per active endpoint (events by project and position), so the cost
    # follows the number of endpoints, not of events.
    first_after = (
        sa.select(events.c.created_at)
        .where(
            events.c.project_id == webhooks.c.project_id,
            past(conn, (webhooks.c.cursor_txid, webhooks.c.cursor_seq)),
        )
        .order_by(events.c.txid, events.c.seq)
        .limit(1)
        .scalar_subquery()
    )
    found = conn.execute(
        sa.select(sa.func.min(first_after)).where(webhooks.c.active.is_(True))
    ).scalar_one()
    assert found is None or isinstance(found, datetime)
    return found
