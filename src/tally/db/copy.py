"""`tally db copy`: a project's whole data set (or every project's) from one database to
another, e.g. from the embedded SQLite file to PostgreSQL when one machine is no longer
enough, or back.

The target is migrated first, then each table is copied after the tables it refers to,
by keyset batches of the source, one target transaction a batch: memory stays flat for
any number of rows. A copy that is interrupted (killed, a lost connection) is carried on
by running the same command again (tally.db.copy_progress). At the end every table's
row count and checksum are compared on both sides (tally.db.checksums).

The copy reads a database nobody writes: it refuses a source or target that another
process has open (``force`` skips that check; the comparison at the end then tells
whether the source changed meanwhile). A SQLite source, and both sides of a
verification, are opened read-only. Errors never carry a statement's parameters: rows
hold API token hashes and webhook secrets, and errors reach the terminal.

Rows are copied as they are, with three exceptions, each explained where it is made:
the integer keys of events, jobs and webhook deliveries are numbered anew, events' txid
becomes 0, and webhook cursors are moved onto the new numbers. Jobs and async actions are
copied with their state: a job that was running when its process stopped keeps its
checkpoint and its lease, and the target's first runner takes it up from that checkpoint
once the lease runs out, as after any crash. It is not run twice, as nothing runs the
source any more (checked, unless forced). Exports keep the path of their file: the exports
directory is carried over by the operator (docs/operations.md).
"""

import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from tally.db import copy_checks as checks
from tally.db import copy_progress as progress
from tally.db import sqlite_files
from tally.db.checksums import TableSum, hidden_events, mismatches, project_sums
from tally.db.copy_tables import (
    CopiedTable,
    copied_tables,
    decode_position,
    encode_position,
    insert_statement,
    json_text,
    read_statement,
)
from tally.db.engine import create_db_engine
from tally.db.migrate import upgrade
from tally.db.refused import Refused
from tally.events.tables import events
from tally.projects.tables import projects
from tally.webhooks.tables import webhooks

DEFAULT_BATCH = 2000

AfterBatch = Callable[[str, str, int], None]  # (project id, table, rows in the batch)


@dataclass(frozen=True)
class ProjectCopy:
    project_id: str
    name: str
    resumed: bool
    # Rows this run inserted, by table.
    copied: dict[str, int]
    source: dict[str, TableSum]
    target: dict[str, TableSum]
    # The project's events the target's API does not list (checksums.hidden_events).
    hidden_events: int = 0

    @property
    def mismatched(self) -> list[str]:
        """The tables that differ; the events table too when some of its rows are hidden."""
        differ = set(mismatches(self.source, self.target))
        if self.hidden_events:
            differ.add(events.name)
        return [name for name in self.source if name in differ]


def copy_database(
    from_url: str,
    to_url: str,
    *,
    project: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    force: bool = False,
    after_batch: AfterBatch | None = None,
) -> list[ProjectCopy]:
    """Copy ``project`` (an id or a name), or every project of the source when None, and
    verify each. Raises :class:`Refused` before writing anything when the copy must not
    run; a verification that fails is reported in the result, not raised."""
    if batch_size < 1:
        raise Refused("the batch size is at least 1")
    if checks.same_place(from_url, to_url):
        raise Refused("--from and --to are the same database")
    # This run's PostgreSQL connections carry a name, so that it does not count them as
    # another process's when it looks whether a database is in use.
    tag = f"tally-db-copy-{secrets.token_hex(4)}"
    source = _engine(from_url, tag, read_only=True)
    target = _engine(to_url, tag, read_only=False)
    try:
        if not force:
            # First: a SQLite file is asked about before this process opens it (making an
            # engine opens nothing).
            checks.refuse_in_use(source, from_url, "source", tag)
            checks.refuse_in_use(target, to_url, "target", tag)
        checks.require_head(source)
        upgrade(to_url)
        checks.refuse_same_database(source, target)
        label = checks.source_label(from_url)
        selected = _projects(source, project)
        markers = _claim(target, selected, label)
        copies = [
            _copy_project(
                source,
                target,
                project_id,
                name,
                label,
                markers[project_id],
                batch_size=batch_size,
                after=after_batch,
            )
            for project_id, name in selected
        ]
        if not any(copy.mismatched for copy in copies):
            # Only now: a run killed after some projects are whole finds their markers,
            # and carries on instead of refusing them as "already there".
            with target.begin() as conn:
                for copy in copies:
                    progress.finish(conn, copy.project_id)
        return copies
    finally:
        source.dispose()
        target.dispose()


def verify_database(
    from_url: str, to_url: str, *, project: str | None = None, batch_size: int = DEFAULT_BATCH
) -> list[ProjectCopy]:
    """Compare the counts and checksums of ``project`` (or every project of the source)
    on both sides, and look for events the target does not list, writing nothing."""
    tag = f"tally-db-verify-{secrets.token_hex(4)}"
    source = _engine(from_url, tag, read_only=True)
    target = _engine(to_url, tag, read_only=True)
    try:
        return [
            ProjectCopy(
                project_id=project_id,
                name=name,
                resumed=False,
                copied={},
                source=project_sums(source, project_id, batch_size=batch_size),
                target=project_sums(target, project_id, batch_size=batch_size),
                hidden_events=hidden_events(target, project_id),
            )
            for project_id, name in _projects(source, project)
        ]
    finally:
        source.dispose()
        target.dispose()


def _engine(url: str, tag: str, *, read_only: bool) -> Engine:
    """An engine for one side of a copy or a verification, with one connection.

    Errors it raises show the statement but never its parameters (the rows' values: API
    token hashes, webhook secrets), wherever they end up printed or logged."""
    path = sqlite_files.database_path(url)
    if path is None:
        engine = create_db_engine(checks.named(url, tag), pool_size=1)
    elif read_only:
        engine = _read_only_sqlite(path)
    else:
        engine = create_db_engine(url, pool_size=1)
    # create_db_engine takes no such option; the engine reads this attribute when it
    # wraps a driver's error.
    engine.hide_parameters = True
    return engine


def _read_only_sqlite(path: Path) -> Engine:
    """A SQLite file opened so that nothing can change it: not the server's engine, whose
    connections turn the file to WAL mode (a write) and make a missing file. A file in
    WAL mode is read with its -wal, as any reader does (SQLite then makes an empty -wal
    and a -shm beside it if there were none: the database itself is not written)."""
    if not path.is_file():
        raise Refused(f"no SQLite database at {path}")

    def connect() -> sqlite3.Connection:
        # Autocommit at the driver; each SQLAlchemy transaction is a BEGIN (below), so a
        # batch and what is read with it come from one snapshot.
        return sqlite_files.open_read_only(path)

    engine = sa.create_engine(
        # Only says which pool suits a file: the connections are the creator's.
        sa.engine.URL.create("sqlite", database=str(path)),
        creator=connect,
        pool_size=1,
        json_serializer=lambda value: orjson.dumps(value).decode(),
        json_deserializer=orjson.loads,
    )

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def _projects(source: Engine, project: str | None) -> list[tuple[str, str]]:
    with source.connect() as conn:
        rows = [
            (str(row.id), str(row.name))
            for row in conn.execute(
                sa.select(projects.c.id, projects.c.name).order_by(
                    projects.c.created_at, projects.c.id
                )
            )
        ]
    if project is None:
        return rows
    found = [row for row in rows if project in row]
    if not found:
        raise Refused(f"the source has no project {project}")
    if len(found) > 1:
        raise Refused(f"several projects are named {project}: name it by id")
    return found


# -- the copy ----------------------------------------------------------------------------


def _claim(
    target: Engine, selected: list[tuple[str, str]], label: str
) -> dict[str, dict[str, Any]]:
    """Each selected project's progress marker in the target, once every one of them may
    be copied: all are checked before any is written, so a refusal for one project never
    comes after others were copied. A project not begun yet is given its marker."""
    markers: dict[str, dict[str, Any]] = {}
    # Raising rolls the transaction back: a refusal leaves nothing behind.
    with target.begin() as conn:
        progress.ensure_table(conn)
        for project_id, name in selected:
            marker = progress.read(conn, project_id)
            if marker:
                whole = marker.get(progress.WHOLE)
                began = whole["source"] if whole is not None else None
                if began != label:
                    raise Refused(
                        f"the target holds an unfinished copy of project {project_id} from "
                        f"{began}: carry it on with --from {began}"
                    )
            else:
                held = conn.execute(sa.select(projects.c.id).where(projects.c.id == project_id))
                if held.first() is not None:
                    raise Refused(
                        f"the target already holds project {project_id} ({name}), and not "
                        "from an interrupted copy: copy into a database without it"
                    )
            markers[project_id] = marker
        for project_id, _name in selected:
            if not markers[project_id]:
                progress.start(conn, project_id, label)
    return markers


def _copy_project(
    source: Engine,
    target: Engine,
    project_id: str,
    name: str,
    label: str,
    marker: dict[str, Any],
    *,
    batch_size: int,
    after: AfterBatch | None,
) -> ProjectCopy:
    copied: dict[str, int] = {}
    for table in copied_tables():
        state = marker.get(table.name)
        if state is not None and state["done"]:
            copied[table.name] = 0
            continue
        position = (
            decode_position(table, state["position"])
            if state is not None and state["position"] is not None
            else None
        )
        try:
            copied[table.name] = _copy_table(
                source, target, table, project_id, label, position, batch_size, after
            )
        except sa.exc.SQLAlchemyError as exc:
            exc.add_note(f"copying {table.name} of project {project_id}")
            raise
    _carry_cursors(source, target, project_id, label)
    source_sums = project_sums(source, project_id, batch_size=batch_size)
    target_sums = project_sums(target, project_id, batch_size=batch_size)
    return ProjectCopy(
        project_id=project_id,
        name=name,
        resumed=bool(marker),
        copied=copied,
        source=source_sums,
        target=target_sums,
        hidden_events=hidden_events(target, project_id),
    )


def _copy_table(
    source: Engine,
    target: Engine,
    table: CopiedTable,
    project_id: str,
    label: str,
    position: tuple[Any, ...] | None,
    batch_size: int,
    after: AfterBatch | None,
) -> int:
    """Copy the project's rows of ``table`` after ``position``; the rows inserted.

    Why carrying on is safe: a batch's rows and the position of its last row commit in one
    target transaction, so after any interruption the target holds exactly the rows up to
    the recorded position, in the source's keyset order, and the next run reads on from
    there: no row twice, none skipped. Inserts also skip a primary key that is there
    already, a second guard that costs nothing."""
    statement = insert_statement(table, target.dialect.name)
    json_columns = table.json_columns()
    total = 0
    while True:
        with source.connect() as conn:
            read = read_statement(table, source.dialect.name, project_id, position, batch_size)
            rows = list(conn.execute(read).mappings())
        finished = len(rows) < batch_size
        with target.begin() as conn:
            if rows:
                values = [_target_row(table, row, json_columns) for row in rows]
                if table.serial is not None:
                    _number(conn, table, values)
                conn.execute(statement, values)
                position = tuple(rows[-1][column.name] for column in table.order)
            progress.advance(
                conn,
                project_id,
                table.name,
                position=encode_position(position) if rows and position else None,
                done=finished,
                source=label,
            )
        total += len(rows)
        if after is not None:
            after(project_id, table.name, len(rows))
        if finished:
            return total


def _target_row(table: CopiedTable, row: Any, json_columns: frozenset[str]) -> dict[str, Any]:
    values = dict(row)
    for name in json_columns:
        values[name] = json_text(values[name])
    if "txid" in values and table.serial is not None:
        # An event's txid is the id of the PostgreSQL transaction that wrote it, and
        # readers list only events of transactions older than every running one
        # (tally.events.repository.horizon). A source's ids mean nothing in the target's
        # sequence of transactions: kept, they could hide copied events until the target
        # caught up, and new events would list before them. 0 is below every real id, so
        # copied events are visible at once and come before everything written later, in
        # the order of their new numbers (the source's (txid, seq) order). On SQLite every
        # event has 0 already.
        values["txid"] = 0
    if table.name == "webhooks":
        # Positions among the events: set once the events are in (_carry_cursors).
        values["cursor_txid"] = values["cursor_seq"] = 0
        # A source deliverer's lease means nothing in the target: free for its own at once.
        values["lease_worker"] = values["lease_until"] = None
    return values


def _number(conn: Connection, table: CopiedTable, values: list[dict[str, Any]]) -> None:
    """New keys after every key the target has used, in the source's order."""
    assert table.serial is not None
    column = table.serial
    top = int(conn.execute(sa.select(sa.func.max(column))).scalar() or 0)
    sequence = None
    if conn.dialect.name == "postgresql":
        sequence = conn.execute(
            sa.select(sa.func.pg_get_serial_sequence(table.table.name, column.name))
        ).scalar_one()
        # A sequence may be ahead of the table (numbers of rolled-back inserts).
        last, called = conn.execute(sa.text(f"SELECT last_value, is_called FROM {sequence}")).one()
        top = max(top, int(last) if called else int(last) - 1)
    for offset, row in enumerate(values, start=1):
        row[column.name] = top + offset
    if sequence is not None:
        # Rows inserted with their key do not move the sequence: without this, the target's
        # next insert would be given a number the copy has used.
        conn.execute(
            sa.text("SELECT setval(CAST(:sequence AS regclass), :value)"),
            {"sequence": sequence, "value": top + len(values)},
        )


def _carry_cursors(source: Engine, target: Engine, project_id: str, label: str) -> None:
    """Each webhook endpoint's cursor (how far its deliveries were made) points at the
    same event in the target as in the source: its last event at or before the cursor."""
    with source.connect() as conn:
        hooks = conn.execute(
            sa.select(webhooks.c.id, webhooks.c.cursor_txid, webhooks.c.cursor_seq).where(
                webhooks.c.project_id == project_id
            )
        ).all()
        passed = {
            hook.id: conn.execute(
                sa.select(events.c.id)
                .where(
                    events.c.project_id == project_id,
                    sa.tuple_(events.c.txid, events.c.seq)
                    <= sa.tuple_(hook.cursor_txid, hook.cursor_seq),
                )
                .order_by(events.c.txid.desc(), events.c.seq.desc())
                .limit(1)
            ).scalar()
            for hook in hooks
        }
    with target.begin() as conn:
        for webhook_id, event_id in passed.items():
            seq = 0
            if event_id is not None:
                found = sa.select(events.c.seq).where(events.c.id == event_id)
                seq = conn.execute(found).scalar_one()
            conn.execute(
                webhooks.update()
                .where(webhooks.c.id == webhook_id)
                .values(cursor_txid=0, cursor_seq=seq)
            )
        progress.advance(conn, project_id, progress.WHOLE, position=None, done=True, source=label)
