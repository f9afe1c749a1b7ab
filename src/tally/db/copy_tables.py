"""What each table is to a copy between databases: the order its rows are read in, the
project's rows, and statements that carry JSON as the text it is stored as.

JSON columns are read and written as text, never through Python values: SQL NULL and a
JSON ``null`` stay apart (the JSON type would write ``null`` for both), and the document
is not parsed and printed again on its way.
"""

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect

import tally.tables  # noqa: F401  (registers every table on the metadata)
from tally.db.base import metadata


# Compared by identity: a dataclass's own __eq__ would compare columns with ==, which in
# SQLAlchemy builds an expression instead of answering.
@dataclass(frozen=True, eq=False)
class CopiedTable:
    table: sa.Table
    # The keyset the source is read by, in this order; unique.
    order: tuple[sa.Column[Any], ...]
    # An integer key the target numbers anew (events, jobs and webhook deliveries): the
    # same numbers may be taken there by another project, and a number only ever says what
    # came first. Rows keep their string ``id``, which is what other rows refer to.
    serial: sa.Column[Any] | None

    @property
    def name(self) -> str:
        return self.table.name

    def of_project(self, project_id: str) -> sa.ColumnElement[bool]:
        column = self.table.c.id if self.name == "projects" else self.table.c.project_id
        return column == project_id

    def json_columns(self) -> frozenset[str]:
        return frozenset(c.name for c in self.table.columns if isinstance(c.type, sa.JSON))


def _serial_column(table: sa.Table) -> sa.Column[Any] | None:
    keys = list(table.primary_key.columns)
    if len(keys) != 1 or keys[0].autoincrement is not True:
        return None
    if "id" not in table.c or not table.c.id.unique:
        raise AssertionError(f"{table.name}: a renumbered key needs a unique id column")
    return keys[0]


@cache
def copied_tables() -> tuple[CopiedTable, ...]:
    """Every table of the schema, each after the tables it refers to."""
    found = []
    for table in metadata.sorted_tables:
        serial = _serial_column(table)
        if serial is not None and "txid" in table.c:
            # Events are listed in (txid, seq) order (tally.events.repository).
            order: tuple[sa.Column[Any], ...] = (table.c.txid, serial)
        elif serial is not None:
            order = (serial,)
        else:
            order = tuple(table.primary_key.columns)
        found.append(CopiedTable(table=table, order=order, serial=serial))
    return tuple(found)


def read_statement(
    copied: CopiedTable, dialect: str, project_id: str, after: tuple[Any, ...] | None, limit: int
) -> sa.Select[Any]:
    """The next ``limit`` rows of the project after the keyset position ``after``, JSON
    as text. Rows come in the engine's own order of the keys (its collation for text):
    the same order for every batch of one read, which is all a keyset needs."""
    columns: list[sa.ColumnElement[Any]] = []
    for column in copied.table.columns:
        if isinstance(column.type, sa.JSON):
            raw = (
                sa.cast(column, sa.Text)
                if dialect == "postgresql"
                else sa.type_coerce(column, sa.Text)
            )
            columns.append(raw.label(column.name))
        else:
            columns.append(column)
    query = sa.select(*columns).where(copied.of_project(project_id))
    if after is not None:
        if len(copied.order) == 1:
            query = query.where(copied.order[0] > after[0])
        else:
            query = query.where(sa.tuple_(*copied.order) > sa.tuple_(*after))
    return query.order_by(*copied.order).limit(limit)


class _JSONText(sa.types.TypeDecorator[str]):
    """Text bound as the stored JSON: jsonb on PostgreSQL takes it through a cast."""

    impl = sa.Text
    cache_ok = True

    def bind_expression(self, bindvalue: Any) -> Any:
        return sa.cast(bindvalue, postgresql.JSONB)


@cache
def insert_statement(copied: CopiedTable, dialect: str) -> sa.Insert:
    """An INSERT of whole rows (JSON as text) for executemany. Rows whose key is there
    already are skipped (ON CONFLICT on the primary key only: any other unique key that
    clashes is an error, never a silent skip)."""
    json_type: sa.types.TypeEngine[Any] = _JSONText() if dialect == "postgresql" else sa.Text()
    values = {
        column.name: sa.bindparam(
            column.name, type_=json_type if isinstance(column.type, sa.JSON) else column.type
        )
        for column in copied.table.columns
    }
    keys = [column.name for column in copied.table.primary_key.columns]
    if dialect == "postgresql":
        return (
            postgresql.insert(copied.table)
            .values(values)
            .on_conflict_do_nothing(index_elements=keys)
        )
    return (
        sqlite_dialect.insert(copied.table)
        .values(values)
        .on_conflict_do_nothing(index_elements=keys)
    )


def json_text(value: Any) -> str | None:
    """A JSON column's value as read raw. SQLite gives back a number for a document that
    is a bare number (the column's numeric affinity): it is that number's JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def encode_position(values: tuple[Any, ...]) -> str:
    """A keyset position as JSON, for the progress marker."""
    return json.dumps([v.isoformat() if isinstance(v, date | datetime) else v for v in values])


def decode_position(copied: CopiedTable, text: str) -> tuple[Any, ...]:
    decoded = []
    for column, value in zip(copied.order, json.loads(text), strict=True):
        python_type = column.type.python_type
        if value is not None and python_type is date:
            value = date.fromisoformat(value)
        elif value is not None and python_type is datetime:
            value = datetime.fromisoformat(value)
        decoded.append(value)
    return tuple(decoded)
