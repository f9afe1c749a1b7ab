"""Statements for webhook endpoints and their deliveries."""

from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from tally.common import repository as common
from tally.db.prepared import Prepared, Row
from tally.events import repository as events_repository
from tally.events.tables import events
from tally.webhooks.tables import webhook_deliveries as deliveries
from tally.webhooks.tables import webhooks


def insert(conn: Connection, row: dict[str, Any]) -> None:
    common.insert_row(conn, webhooks, row)


def get(conn: Connection, project_id: str, webhook_id: str) -> Row | None:
    return common.one_by(conn, webhooks, project_id, "id", webhook_id)


def update(conn: Connection, project_id: str, webhook_id: str, values: dict[str, Any]) -> None:
    common.update_row(conn, webhooks, project_id, webhook_id, values)


def delete(conn: Connection, project_id: str, webhook_id: str) -> None:
    """The endpoint and its deliveries. Its row is locked first (PostgreSQL): a deliverer
    recording deliveries for it has committed them before these deletes run, or finds the
    endpoint gone and records none, so none is left pointing at a deleted endpoint."""
    if conn.dialect.name != "sqlite":
        conn.execute(
            sa.select(webhooks.c.id)
            .where(webhooks.c.project_id == project_id, webhooks.c.id == webhook_id)
            .with_for_update()
        )
    conn.execute(
        deliveries.delete().where(
            deliveries.c.project_id == project_id, deliveries.c.webhook_id == webhook_id
        )
    )
    conn.execute(
        webhooks.delete().where(webhooks.c.project_id == project_id, webhooks.c.id == webhook_id)
    )


def page(conn: Connection, project_id: str, *, limit: int, page: int) -> list[Row]:
    return common.page_rows(
        conn,
        webhooks,
        [webhooks.c.project_id == project_id],
        order="created_at",
        limit=limit,
        page=page,
    )


def count(conn: Connection, project_id: str) -> int:
    query = (
        sa.select(sa.func.count()).select_from(webhooks).where(webhooks.c.project_id == project_id)
    )
    return int(conn.execute(query).scalar_one())


def streams(conn: Connection) -> list[Row]:
    """Every active endpoint: what sending needs, its cursor and who holds its lease."""
    query = sa.select(
        webhooks.c.id,
        webhooks.c.project_id,
        webhooks.c.url,
        webhooks.c.secret,
        webhooks.c.events,
        webhooks.c.cursor_txid,
        webhooks.c.cursor_seq,
        webhooks.c.lease_worker,
        webhooks.c.lease_until,
    ).where(webhooks.c.active.is_(True))
    # In id order: a deliverer writes the endpoints it takes or moves in this order, so two
    # of them never wait on each other's rows crosswise (PostgreSQL).
    return list(conn.execute(query.order_by(webhooks.c.id)).mappings())


def _held_at(webhook_id: str, project_id: str, cursor: tuple[int, int]) -> list[Any]:
    return [
        webhooks.c.id == webhook_id,
        webhooks.c.project_id == project_id,
        webhooks.c.active.is_(True),
        webhooks.c.cursor_txid == cursor[0],
        webhooks.c.cursor_seq == cursor[1],
    ]


def take_lease(
    conn: Connection,
    webhook_id: str,
    project_id: str,
    *,
    cursor: tuple[int, int],
    worker: str,
    now: datetime,
    until: datetime,
) -> bool:
    """Lease the endpoint's events after ``cursor`` to ``worker`` (or renew its lease):
    only while it is active, still at ``cursor``, and nobody else holds a lease that has
    not run out. On PostgreSQL a concurrent taker waits for the row and then finds the
    condition false, so one deliverer wins."""
    free = sa.or_(
        webhooks.c.lease_worker.is_(None),
        webhooks.c.lease_worker == worker,
        webhooks.c.lease_until < now,
    )
    result = conn.execute(
        webhooks.update()
        .where(*_held_at(webhook_id, project_id, cursor), free)
        .values(lease_worker=worker, lease_until=until)
    )
    return result.rowcount == 1


def advance(
    conn: Connection,
    webhook_id: str,
    project_id: str,
    *,
    cursor: tuple[int, int],
    to: tuple[int, int],
    worker: str,
    until: datetime,
) -> bool:
    """Move the cursor from ``cursor`` to ``to`` and renew ``worker``'s lease, only while it
    holds the lease and the cursor has not moved (another deliverer that took over after
    the lease ran out, or the endpoint turned off and on, moved it): False, nothing done."""
    result = conn.execute(
        webhooks.update()
        .where(*_held_at(webhook_id, project_id, cursor), webhooks.c.lease_worker == worker)
        .values(cursor_txid=to[0], cursor_seq=to[1], lease_until=until)
    )
    return result.rowcount == 1


def release_leases(conn: Connection, worker: str) -> None:
    """A deliverer stopping: others may take its endpoints at once."""
    conn.execute(
        webhooks.update()
        .where(webhooks.c.lease_worker == worker)
        .values(lease_worker=None, lease_until=None)
    )


def release_claims(conn: Connection, worker: str, seqs: list[int]) -> None:
    """A deliverer stopping with retries it claimed but never sent: others may try them at
    once instead of when the lease would have run out."""
    if seqs:
        conn.execute(
            deliveries.update()
            .where(
                deliveries.c.seq.in_(seqs),
                deliveries.c.worker == worker,
                deliveries.c.status == "pending",
            )
            .values(lease_until=None, worker=None)
        )


def insert_deliveries(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Delivery rows; one already there is left as it is. Its id is its endpoint's and
    event's, so it is there only when the event was recorded once already (a cursor set
    back, a restored table): at least once, the second recording changes nothing, and it
    must not fail the whole batch again and again."""
    if not rows:
        return
    insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
    conn.execute(insert(deliveries).on_conflict_do_nothing(index_elements=["id"]), rows)


def deliveries_page(
    conn: Connection, project_id: str, webhook_id: str, *, limit: int, page: int, status: str | None
) -> list[Row]:
    """An endpoint's deliveries, newest first, with their event's id and type."""
    where = [deliveries.c.project_id == project_id, deliveries.c.webhook_id == webhook_id]
    if status is not None:
        where.append(deliveries.c.status == status)
    query = (
        sa.select(deliveries, events.c.type.label("event_type"))
        .join(events, events.c.id == deliveries.c.event_id)
        .where(*where)
        .order_by(deliveries.c.seq.desc())
        .limit(limit)
        .offset((page - 1) * limit)
    )
    return list(conn.execute(query).mappings())


def count_deliveries(conn: Connection, project_id: str, webhook_id: str, status: str | None) -> int:
    where = [deliveries.c.project_id == project_id, deliveries.c.webhook_id == webhook_id]
    if status is not None:
        where.append(deliveries.c.status == status)
    query = sa.select(sa.func.count()).select_from(deliveries).where(*where)
    return int(conn.execute(query).scalar_one())


def _due(now: datetime) -> list[sa.ColumnElement[bool]]:
    return [
        deliveries.c.status == "pending",
        deliveries.c.next_attempt_at <= now,
        sa.or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < now),
    ]


def any_due(conn: Connection, *, now: datetime) -> bool:
    """Whether a delivery may be tried now: a read, so an idle deliverer never takes
    SQLite's write lock."""
    query = sa.select(deliveries.c.seq).where(*_due(now)).limit(1)
    return conn.execute(query).first() is not None


def claim(
    conn: Connection, *, now: datetime, until: datetime, worker: str, limit: int
) -> list[Row]:
    """Up to ``limit`` due deliveries of active endpoints, earliest due first, leased to
    ``worker`` until ``until``; each with its endpoint's url and secret and its event. On
    PostgreSQL rows another deliverer holds are skipped (no waiting on each other)."""
    stmt = (
        sa.select(
            deliveries,
            webhooks.c.url,
            webhooks.c.secret,
            events.c.type.label("event_type"),
            events.c.entity_id,
            events.c.sequence,
            events.c.group_id,
            events.c.channel,
            events.c.app_id,
            events.c.data,
            events.c.same_data_as,
            events.c.created_at.label("event_created_at"),
        )
        .join(webhooks, webhooks.c.id == deliveries.c.webhook_id)
        .join(events, events.c.id == deliveries.c.event_id)
        .where(*_due(now), webhooks.c.active.is_(True))
        .order_by(deliveries.c.next_attempt_at, deliveries.c.seq)
        .limit(limit)
    )
    if conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update(skip_locked=True, of=deliveries)
    rows = events_repository.with_data(conn, list(conn.execute(stmt).mappings()), id_key="event_id")
    if rows:
        conn.execute(
            deliveries.update()
            .where(deliveries.c.seq.in_([row["seq"] for row in rows]))
            .values(lease_until=until, worker=worker)
        )
    return rows


# Every try writes these columns (a prepared statement: one per try, run on the driver).
TRY_COLUMNS = (
    "status",
    "attempts",
    "log",
    "first_attempt_at",
    "next_attempt_at",
    "lease_until",
    "worker",
    "finished_at",
)


@cache
def _finish_try() -> Prepared:
    return Prepared(
        deliveries.update()
        .where(
            deliveries.c.seq == sa.bindparam("_seq"),
            deliveries.c.worker == sa.bindparam("_worker"),
            deliveries.c.status == "pending",
        )
        .values({name: sa.bindparam(name) for name in TRY_COLUMNS})
    )


def finish_try(conn: Connection, seq: int, worker: str, values: dict[str, Any]) -> bool:
    """Record a try (``values``: every TRY_COLUMNS), only while ``worker`` still holds the
    delivery (a deliverer whose lease ran out must not write over the one that took it
    over)."""
    return _finish_try().write(conn, {**values, "_seq": seq, "_worker": worker}) == 1


def give_up_pending(conn: Connection, webhook_id: str, now: datetime) -> None:
    """An endpoint was disabled: its deliveries still waiting end as failed."""
    conn.execute(
        deliveries.update()
        .where(deliveries.c.webhook_id == webhook_id, deliveries.c.status == "pending")
        .values(
            status="failed", finished_at=now, lease_until=None, worker=None, next_attempt_at=None
        )
    )
