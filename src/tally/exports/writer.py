"""An export's CSV: one statement over the object's table, read in batches and written as
it is read, so memory stays flat however many rows there are (BEHAVIOR 18.8)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.clock import iso
from tally.core import csv_cells
from tally.db.streams import batches
from tally.exports import filters as filtering
from tally.exports.columns import METADATA_PREFIX, Source

BATCH_ROWS = 2000

# The API's timestamp form, made by PostgreSQL: cheaper than a datetime per cell here.
_POSTGRES_TIME = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'


@dataclass(frozen=True)
class Plan:
    header: list[str]
    statement: sa.Select[Any]
    # A batch of driver rows -> their CSV text.
    lines: Callable[[Sequence[Sequence[Any]]], str]


def plan(
    source: Source,
    *,
    project_id: str,
    fields: Sequence[str],
    filters: filtering.Filters,
    order: str,
    dialect: str,
) -> Plan:
    """What to select and how each selected value becomes a cell. ``fields`` were checked
    when the export was created (service.check_parameters)."""
    table = source.table
    selected: list[sa.ColumnElement[Any]] = []
    positions: dict[str, int] = {}

    def select(key: str, expression: sa.ColumnElement[Any]) -> int:
        if key not in positions:
            positions[key] = len(selected)
            selected.append(expression)
        return positions[key]

    # (position, how, key): how a selected value becomes a cell ("int", "time", "text",
    # "raw_json" stored compact, "json" to be made compact, "key": that key of the JSON
    # column at the position).
    steps: list[tuple[int, str, str | None]] = []
    for name in fields:
        if name.startswith(METADATA_PREFIX):
            at = select(f"json:{table.c.metadata}", _json_text(table.c.metadata, dialect))
            steps.append((at, "key", name[len(METADATA_PREFIX) :]))
            continue
        field = source.fields[name]
        expression = field.sql(table)
        if field.kind == "time" and dialect == "sqlite":
            # SQLite's strftime cost 3.4 us a row, more than reading the row: the stored
            # text is reshaped here instead.
            steps.append((select(name, expression), "sqlite_time", None))
        elif field.kind == "time":
            steps.append((select(name, _time(expression)), "time", None))
        elif field.kind == "text":
            steps.append((select(name, expression), "text", None))
        elif field.kind == "metadata":
            at = select(f"json:{expression}", _json_text(expression, dialect))
            # SQLite keeps the compact text Tally wrote; jsonb prints spaces.
            steps.append((at, "raw_json" if dialect == "sqlite" else "json", None))
        elif field.kind == "json":
            at = select(f"json:{expression}", _json_text(expression, dialect))
            steps.append((at, "key", field.key))
        elif isinstance(expression.type, sa.Integer):
            steps.append((select(name, expression), "int", None))
        else:
            steps.append((select(name, expression), "text", None))

    where = [table.c.project_id == project_id]
    condition = filtering.to_sql(source, filters, dialect, table)
    if condition is not None:
        where.append(condition)
    statement = sa.select(*selected).where(*where).order_by(*_order(table, order))
    return Plan(header=list(fields), statement=statement, lines=_converter(steps))


def _json_text(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    return column if dialect == "sqlite" else sa.cast(column, sa.Text)


def _time(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.func.to_char(sa.func.timezone("UTC", column), _POSTGRES_TIME)


def _sqlite_time(stored: str | None) -> str:
    """SQLAlchemy's SQLite text, 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC), in the API's form (the
    converter reshapes the usual form inline; this is for any other)."""
    if stored is None:
        return ""
    if len(stored) == 26:
        return f"{stored[:10]}T{stored[11:23]}Z"
    return iso(datetime.fromisoformat(stored)) or ""


def _order(table: sa.Table, order: str) -> list[sa.ColumnElement[Any]]:
    descending = order.startswith("-")
    name = order.lstrip("-")
    column: sa.ColumnElement[Any] = table.c[name]
    if name == "updated_at":
        # Never-updated rows sort at their creation, as the list endpoints sort them.
        column = sa.func.coalesce(table.c.updated_at, table.c.created_at)
    elif table.c[name].nullable and isinstance(table.c[name].type, sa.String):
        # The engines put NULLs at opposite ends; as '' they come first on both.
        column = sa.func.coalesce(column, "")
    keys = [column, table.c.id]
    return [key.desc() for key in keys] if descending else [key.asc() for key in keys]


_TEXTUAL = frozenset({str, type(None)})
_NEEDS_QUOTES = ('"', ",", "\n", "\r")
_FORMULA_AFTER_NUL = tuple("\x00" + c for c in csv_cells.ESCAPED_STARTS)


def _text_column(column: Sequence[Any]) -> list[str]:
    """A column of text as cells. Most columns (ids, statuses, plain source ids) need no
    quoting nor defusing: one scan of the column joined says so, and it is used as it is."""
    texts = ["" if v is None else v if v.__class__ is str else str(v) for v in column]
    # Every value starts right after a NUL here: a value that itself holds a NUL can only
    # make the scan say "look closer", never miss a cell that needs it.
    joined = "\x00" + "\x00".join(texts)
    if any(mark in joined for mark in _NEEDS_QUOTES) or any(
        start in joined for start in _FORMULA_AFTER_NUL
    ):
        text, quote = csv_cells.text, csv_cells.quote
        return [quote(text(v)) if v else "" for v in texts]
    return texts


def _converter(
    steps: list[tuple[int, str, str | None]],
) -> Callable[[Sequence[Sequence[Any]]], str]:
    """Column by column: each is one comprehension over the batch, and the lines are joined
    at C speed (a function call per cell cost more than everything else together)."""
    # JSON columns parsed once a batch, whatever number of fields read them.
    parsed_at = sorted({at for at, how, _ in steps if how in ("key", "json")})
    loads = orjson.loads
    quote = csv_cells.quote
    value = csv_cells.json_value
    dumps = csv_cells.json_text
    single = len(steps) == 1
    sqlite_time = _sqlite_time

    def lines(rows: Sequence[Sequence[Any]]) -> str:
        columns = list(zip(*rows, strict=True))
        parsed = {
            at: [loads(v) if v is not None else None for v in columns[at]] for at in parsed_at
        }
        cells: list[list[str]] = []
        for at, how, key in steps:
            column = columns[at]
            if how == "int":
                cells.append(["" if v is None else str(v) for v in column])
            elif how == "time":
                cells.append(["" if v is None else v for v in column])
            elif how == "sqlite_time":
                cells.append(
                    [
                        f"{v[:10]}T{v[11:23]}Z"
                        if v.__class__ is str and len(v) == 26
                        else sqlite_time(v)
                        for v in column
                    ]
                )
            elif how == "text":
                cells.append(_text_column(column))
            elif how == "raw_json":
                # JSON text always holds quotes unless it is {}: quoted without a look.
                cells.append(['"' + v.replace('"', '""') + '"' if v else "" for v in column])
            elif how == "json":
                cells.append([quote(dumps(d)) if d is not None else "" for d in parsed[at]])
            else:
                values = [d.get(key) if d.__class__ is dict else None for d in parsed[at]]
                if set(map(type, values)) <= _TEXTUAL:
                    cells.append(_text_column(values))
                else:
                    cells.append([quote(value(v)) for v in values])
        if single:
            return "".join(csv_cells.line([cell]) for cell in cells[0])
        return "\n".join(map(",".join, zip(*cells, strict=True))) + "\n"

    return lines


def write(
    conn: Connection,
    plan: Plan,
    out: TextIO,
    *,
    after_batch: Callable[[int], None] | None = None,
) -> int:
    """Write the header and every row to ``out``; how many rows. ``after_batch`` is called
    with the running count after each batch (leases, progress bars)."""
    out.write(csv_cells.line([csv_cells.quote(csv_cells.text(name)) for name in plan.header]))
    count = 0
    # Closed on the way out whatever happens: the reading thread is done with the
    # connection before the caller's transaction ends.
    read = batches(conn, plan.statement, BATCH_ROWS)
    try:
        for rows in read:
            out.write(plan.lines(rows))
            count += len(rows)
            if after_batch is not None:
                after_batch(count)
    finally:
        read.close()
    return count
