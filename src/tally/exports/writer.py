"""An export's CSV: one statement over the object's table, read in batches and written as
it is read, so memory stays flat however many rows there are (BEHAVIOR 18.8)."""

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.core import csv_cells
from tally.db.streams import batches
from tally.exports import filters as filtering
from tally.exports.columns import METADATA_PREFIX, Source

BATCH_ROWS = 2000

# The API's timestamp form, made by the database: cheaper than a datetime per cell.
_SQLITE_TIME = "%Y-%m-%dT%H:%M:%fZ"
_POSTGRES_TIME = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'


@dataclass(frozen=True)
class Plan:
    header: list[str]
    statement: sa.Select[Any]
    # Driver rows -> CSV rows, a batch at a time.
    cells: Callable[[Sequence[Sequence[Any]]], Iterable[Sequence[Any]]]


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

    # (position, how): how is None (as selected), "text", "json" (whole column, compact
    # JSON) or a key of the JSON column at that position.
    steps: list[tuple[int, str | None, str | None]] = []
    for name in fields:
        if name.startswith(METADATA_PREFIX):
            at = select(f"json:{table.c.metadata}", _json_text(table.c.metadata, dialect))
            steps.append((at, "key", name[len(METADATA_PREFIX) :]))
            continue
        field = source.fields[name]
        expression = field.sql(table)
        if field.kind == "time":
            steps.append((select(name, _time(expression, dialect)), None, None))
        elif field.kind == "text":
            steps.append((select(name, expression), "text", None))
        elif field.kind == "metadata":
            at = select(f"json:{expression}", _json_text(expression, dialect))
            # SQLite keeps the compact text Tally wrote; jsonb prints spaces.
            steps.append((at, None if dialect == "sqlite" else "json", None))
        elif field.kind == "json":
            at = select(f"json:{expression}", _json_text(expression, dialect))
            steps.append((at, "key", field.key))
        else:
            steps.append((select(name, expression), None, None))

    where = [table.c.project_id == project_id]
    condition = filtering.to_sql(source, filters, dialect, table)
    if condition is not None:
        where.append(condition)
    statement = sa.select(*selected).where(*where).order_by(*_order(table, order))
    return Plan(header=list(fields), statement=statement, cells=_converter(steps))


def _json_text(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    return column if dialect == "sqlite" else sa.cast(column, sa.Text)


def _time(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    if dialect == "sqlite":
        return sa.func.strftime(_SQLITE_TIME, column)
    return sa.func.to_char(sa.func.timezone("UTC", column), _POSTGRES_TIME)


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


def _converter(
    steps: list[tuple[int, str | None, str | None]],
) -> Callable[[Sequence[Sequence[Any]]], Iterable[Sequence[Any]]]:
    if all(how is None for _, how, _ in steps):
        order = [at for at, _, _ in steps]
        if order == list(range(len(order))):
            return lambda rows: rows  # the rows are the cells: csv writes them as they are
    parsed_at = sorted({at for at, how, _ in steps if how == "key"})
    loads = orjson.loads
    text = csv_cells.text
    value = csv_cells.json_value
    dumps = csv_cells.json_text

    def cells(rows: Sequence[Sequence[Any]]) -> Iterable[Sequence[Any]]:
        out = []
        for row in rows:
            parsed = {at: loads(row[at]) if row[at] is not None else None for at in parsed_at}
            line: list[Any] = []
            for at, how, key in steps:
                if how is None:
                    line.append(row[at])
                elif how == "text":
                    line.append(text(row[at]))
                elif how == "key":
                    document = parsed[at]
                    line.append(value(document.get(key)) if isinstance(document, dict) else "")
                else:
                    line.append(dumps(loads(row[at])) if row[at] is not None else "")
            out.append(line)
        return out

    return cells


def write(
    conn: Connection,
    plan: Plan,
    out: TextIO,
    *,
    after_batch: Callable[[int], None] | None = None,
) -> int:
    """Write the header and every row to ``out``; how many rows. ``after_batch`` is called
    with the running count after each batch (leases, progress bars)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(plan.header)
    count = 0
    for rows in batches(conn, plan.statement, BATCH_ROWS):
        writer.writerows(plan.cells(rows))
        count += len(rows)
        if after_batch is not None:
            after_batch(count)
    return count
