"""Row counts and checksums of a project's tables, computed the same way on SQLite and
PostgreSQL, so a copy can be proved whole.

Each row becomes text that does not depend on the engine (JSON parsed and printed with
sorted keys, times in UTC ISO form, booleans and numbers spelled one way, bytes in hex)
and is hashed; a table's checksum is the sum of its rows' hashes. A sum does not depend
on the order rows are read in, which matters: PostgreSQL sorts text by its collation,
SQLite by bytes, so "primary key order" is not one order on both. Where order carries
meaning (events, jobs and deliveries, whose integer key the copy numbers anew) each row
hashes its rank in that order instead of the number itself.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tally.db.copy_tables import CopiedTable, copied_tables, json_text, read_statement
from tally.events.repository import horizon
from tally.events.tables import events

_MODULUS = 1 << 128


@dataclass(frozen=True)
class TableSum:
    rows: int
    checksum: str


def project_sums(engine: Engine, project_id: str, *, batch_size: int) -> dict[str, TableSum]:
    """Every table's count and checksum for the rows of ``project_id``."""
    return {
        copied.name: table_sum(engine, copied, project_id, batch_size=batch_size)
        for copied in copied_tables()
    }


def table_sum(engine: Engine, copied: CopiedTable, project_id: str, *, batch_size: int) -> TableSum:
    dialect = engine.dialect.name
    json_columns = copied.json_columns()
    dropped = _renumbered(copied)
    total = count = 0
    after: tuple[Any, ...] | None = None
    while True:
        # One short read per batch, by keyset: memory stays flat for any table size.
        with engine.connect() as conn:
            rows = list(
                conn.execute(
                    read_statement(copied, dialect, project_id, after, batch_size)
                ).mappings()
            )
            for row in rows:
                values = [
                    _normal(row[name], name in json_columns) for name in row if name not in dropped
                ]
                if copied.serial is not None:
                    values.append(str(count))  # the row's rank in its table's order
                if copied.name == "webhooks":
                    values.append(str(_events_up_to(conn, project_id, row)))
                digest = hashlib.blake2b(orjson.dumps(values), digest_size=16).digest()
                total = (total + int.from_bytes(digest, "big")) % _MODULUS
                count += 1
        if len(rows) < batch_size:
            return TableSum(rows=count, checksum=f"{total:032x}")
        last = rows[-1]
        after = tuple(last[column.name] for column in copied.order)


def _renumbered(copied: CopiedTable) -> frozenset[str]:
    """Columns whose values are the database's own and not the data's: the integer key a
    copy numbers anew, an event's transaction id (tally.db.copy sets it to 0), a webhook's
    cursor (a position among events, compared as how many events it has passed) and its
    deliverer's lease (a copy starts without one)."""
    names = set()
    if copied.serial is not None:
        names.add(copied.serial.name)
        if "txid" in copied.table.c:
            names.add("txid")
    if copied.name == "webhooks":
        names.update({"cursor_txid", "cursor_seq", "lease_worker", "lease_until"})
    return frozenset(names)


def _events_up_to(conn: Connection, project_id: str, webhook: Any) -> int:
    position = (webhook["cursor_txid"], webhook["cursor_seq"])
    query = sa.select(sa.func.count()).where(
        events.c.project_id == project_id,
        sa.tuple_(events.c.txid, events.c.seq) <= sa.tuple_(*position),
    )
    return int(conn.execute(query).scalar_one())


def _normal(value: Any, is_json: bool) -> str | None:
    """``value`` as text that is the same whichever engine it was read from."""
    if value is None:
        return None
    if is_json:
        text = json_text(value)
        assert text is not None
        return orjson.dumps(orjson.loads(text), option=orjson.OPT_SORT_KEYS).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def hidden_events(engine: Engine, project_id: str) -> int:
    """How many of the project's events the API of this database does not list. On
    PostgreSQL only events of transactions older than every running one are listed
    (tally.events.repository.horizon): an event whose txid came from another cluster (a
    pg_restore) is above the horizon, and stays hidden until this cluster's transaction
    ids pass it. Rows and checksums leave txid out (a copy sets it anew), so this is the
    check that sees it. Always 0 on SQLite."""
    with engine.connect() as conn:
        visible = horizon(conn)
        if visible is None:
            return 0
        query = (
            sa.select(sa.func.count())
            .select_from(events)
            .where(events.c.project_id == project_id, sa.not_(visible))
        )
        return int(conn.execute(query).scalar_one())


def mismatches(source: dict[str, TableSum], target: dict[str, TableSum]) -> list[str]:
    """The tables whose count or checksum differ."""
    return [name for name in source if source[name] != target.get(name)]
