"""Statements for events."""

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.common import repository as common
from tally.db.prepared import Prepared, Row
from tally.events.tables import events


def insert_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    common.insert_rows(conn, events, rows)


def with_data(conn: Connection, rows: Sequence[Row], *, id_key: str = "id") -> list[Row]:
    """``rows`` (events, or rows with an event's columns and its id as ``id_key``) with the
    data put back into each that shows an earlier event's (``same_data_as``): taken from
    ``rows`` when that event is among them, as it mostly is (the events of one request
    are written one after the other), else read, all in one statement."""
    wanted = {row["same_data_as"] for row in rows if row["same_data_as"] is not None}
    if not wanted:
        return list(rows)
    shown: dict[str, tuple[str, Any]] = {
        row[id_key]: (row["project_id"], row["data"]) for row in rows if row[id_key] in wanted
    }
    unread = wanted - shown.keys()
    if unread:
        projects = sorted({row["project_id"] for row in rows})
        query = sa.select(events.c.id, events.c.project_id, events.c.data).where(
            events.c.project_id.in_(projects), events.c.id.in_(sorted(unread))
        )
        shown.update({row.id: (row.project_id, row.data) for row in conn.execute(query)})
    out: list[Row] = []
    for row in rows:
        source = row["same_data_as"]
        if source is None:
            out.append(row)
            continue
        found = shown.get(source)
        # Written in one transaction with the event that shows it, and events are never
        # deleted: missing, or in another project, the database was changed by hand.
        if found is None or found[0] != row["project_id"]:
            raise LookupError(f"event {row[id_key]} shows the data of {source}: not stored")
        out.append({**row, "data": found[1]})
    return out


@cache
def _last_sequence() -> Prepared:
    return Prepared(
        sa.select(sa.func.max(events.c.sequence).label("last")).where(
            events.c.project_id == sa.bindparam("_project_id"),
            events.c.order_id == sa.bindparam("_order_id"),
        )
    )


def last_sequence(conn: Connection, project_id: str, order_id: str) -> int:
    """The sequence number of the order's last event (0: none). Every request that numbers
    an order's events has changed the order, so holds its row until commit: no other
    transaction numbers events of that order meanwhile."""
    row = _last_sequence().first(conn, {"_project_id": project_id, "_order_id": order_id})
    return int(row["last"]) if row is not None and row["last"] is not None else 0


def position_of(conn: Connection, project_id: str, event_id: str) -> tuple[int, int] | None:
    """(txid, seq) of an event of the project: where a cursor after it starts."""
    row = conn.execute(
        sa.select(events.c.txid, events.c.seq).where(
            events.c.project_id == project_id, events.c.id == event_id
        )
    ).first()
    return None if row is None else (int(row[0]), int(row[1]))


def horizon(conn: Connection) -> sa.ColumnElement[bool] | None:
    """PostgreSQL: only events of transactions older than every one still running are
    listed; an event a running transaction writes later can then never land before a
    position a reader has already passed. SQLite: every committed event."""
    if conn.dialect.name == "sqlite":
        return None
    xmin = sa.cast(
        sa.cast(sa.func.pg_snapshot_xmin(sa.func.pg_current_snapshot()), sa.Text), sa.BigInteger
    )
    return events.c.txid < xmin


def past(
    conn: Connection,
    bound: tuple[Any, Any],
    *,
    descending: bool = False,
) -> sa.ColumnElement[bool]:
    """Events after (or with ``descending``, before) the position ``bound``: (txid, seq),
    values or columns. PostgreSQL compares the pair, one index range. SQLite 3.40 uses a
    pair comparison only as ``txid > ?``, so it walked every event of the project up to
    the position (30 ms at 300,000 events, on each page and each deliverer poll); there
    every txid is 0 (writers take turns, seq alone is commit order), so the same range is
    ``txid = ? AND seq > ?``, which the index serves directly."""
    txid, seq = bound
    if conn.dialect.name == "sqlite":
        later = events.c.seq < seq if descending else events.c.seq > seq
        return sa.and_(events.c.txid == txid, later)
    position = sa.tuple_(events.c.txid, events.c.seq)
    return position < sa.tuple_(txid, seq) if descending else position > sa.tuple_(txid, seq)


def page(
    conn: Connection,
    project_id: str,
    *,
    limit: int,
    after: tuple[int, int] | None,
    descending: bool = False,
    type_: str | None = None,
    order_id: str | None = None,
    customer_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Row]:
    """Up to ``limit`` events in commit order (newest first with ``descending``), after the
    position ``after`` in that order."""
    where: list[sa.ColumnElement[bool]] = [events.c.project_id == project_id]
    if type_ is not None:
        where.append(events.c.type == type_)
    if order_id is not None:
        where.append(events.c.order_id == order_id)
    if customer_id is not None:
        where.append(events.c.customer_id == customer_id)
    if start is not None:
        where.append(events.c.created_at >= start)
    if end is not None:
        where.append(events.c.created_at <= end)
    visible = horizon(conn)
    if visible is not None:
        where.append(visible)
    if after is not None:
        where.append(past(conn, after, descending=descending))
    order = (
        (events.c.txid.desc(), events.c.seq.desc()) if descending else (events.c.txid, events.c.seq)
    )
    query = sa.select(events).where(*where).order_by(*order).limit(limit)
    return with_data(conn, list(conn.execute(query).mappings()))


def last_position(conn: Connection, project_id: str) -> tuple[int, int]:
    """(txid, seq) of the project's newest listed event; (0, 0) when there is none."""
    where: list[sa.ColumnElement[bool]] = [events.c.project_id == project_id]
    visible = horizon(conn)
    if visible is not None:
        where.append(visible)
    row = conn.execute(
        sa.select(events.c.txid, events.c.seq)
        .where(*where)
        .order_by(events.c.txid.desc(), events.c.seq.desc())
        .limit(1)
    ).first()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))
