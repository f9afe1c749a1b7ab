"""How far a copy of a project has got, kept in the target database.

Each batch of rows and the position after it commit in one transaction, so the marker
always says exactly which rows are in the target. A marker also tells a copy that was
interrupted (carry on) from a target that holds the project for another reason (refuse).

The table is the copy's own, made when a copy starts and dropped when the last copy in
the target is verified: it is not part of Tally's schema, so it has no migration.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_metadata = sa.MetaData()

copy_progress = sa.Table(
    "tally_copy_progress",
    _metadata,
    sa.Column("project_id", sa.String(40), primary_key=True),
    # "" for the copy as a whole; else a table being copied.
    sa.Column("table_name", sa.String(64), primary_key=True),
    # The keyset position of the last row copied (JSON), NULL before the first batch.
    sa.Column("position", sa.Text, nullable=True),
    sa.Column("done", sa.Boolean, nullable=False),
    # Where the copy comes from (its URL without a password), so that a copy is only ever
    # carried on from the database it began with.
    sa.Column("source", sa.Text, nullable=False),
)

WHOLE = ""


def ensure_table(conn: Connection) -> None:
    _metadata.create_all(conn, checkfirst=True)


def exists(conn: Connection) -> bool:
    return conn.dialect.has_table(conn, copy_progress.name)


def read(conn: Connection, project_id: str) -> dict[str, Any]:
    """The marker rows of ``project_id`` by table name (empty: no copy of it started)."""
    if not exists(conn):
        return {}
    rows = conn.execute(
        sa.select(copy_progress).where(copy_progress.c.project_id == project_id)
    ).mappings()
    return {row["table_name"]: row for row in rows}


def start(conn: Connection, project_id: str, source: str) -> None:
    conn.execute(
        copy_progress.insert().values(
            project_id=project_id, table_name=WHOLE, position=None, done=False, source=source
        )
    )


def advance(
    conn: Connection,
    project_id: str,
    table_name: str,
    *,
    position: str | None,
    done: bool,
    source: str,
) -> None:
    """Record ``position`` (and whether the table is finished), in the caller's transaction."""
    where = (copy_progress.c.project_id == project_id) & (copy_progress.c.table_name == table_name)
    values: dict[str, Any] = {"done": done}
    if position is not None:
        values["position"] = position
    if conn.execute(copy_progress.update().where(where).values(values)).rowcount == 0:
        conn.execute(
            copy_progress.insert().values(
                project_id=project_id, table_name=table_name, source=source, **values
            )
        )


def finish(conn: Connection, project_id: str) -> None:
    """Forget the copy of ``project_id``; the table goes with the last copy."""
    conn.execute(copy_progress.delete().where(copy_progress.c.project_id == project_id))
    drop_if_empty(conn)


def drop_if_empty(conn: Connection) -> None:
    if not exists(conn):
        return
    if conn.execute(sa.select(copy_progress.c.project_id).limit(1)).first() is None:
        _metadata.drop_all(conn, checkfirst=True)


def probe(conn: Connection, token: str) -> None:
    """A row only this run writes, to find out whether the source is the target."""
    conn.execute(
        copy_progress.insert().values(
            project_id="~probe", table_name=token, position=None, done=False, source=""
        )
    )


def has_probe(conn: Connection, token: str) -> bool:
    if not exists(conn):
        return False
    query = sa.select(copy_progress.c.project_id).where(copy_progress.c.table_name == token)
    return conn.execute(query).first() is not None


def drop_probe(conn: Connection, token: str) -> None:
    conn.execute(copy_progress.delete().where(copy_progress.c.table_name == token))
