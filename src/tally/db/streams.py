"""Reading a large result in batches with flat memory, as the driver gives the rows.

SQLite's cursor steps through the statement as rows are fetched. psycopg's ordinary cursor
would load the whole result first, so on PostgreSQL the statement runs as a server-side
cursor (DECLARE ... ; FETCH n) in the caller's transaction. Either way SQLAlchemy compiles
the statement and binds its parameters, and the rows are the driver's plain tuples: an
export turns them into cells without building a Row object per row.
"""

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

_CURSOR = "tally_stream"


class _Declare(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, name: str, select: sa.Select[Any]) -> None:
        self.name = name
        self.select = select


@compiles(_Declare)
def _declare(element: _Declare, compiler: SQLCompiler, **kw: Any) -> str:
    return f"DECLARE {element.name} NO SCROLL CURSOR FOR {compiler.process(element.select, **kw)}"


def batches(conn: Connection, statement: sa.Select[Any], size: int) -> Iterator[Sequence[Any]]:
    """The rows of ``statement``, ``size`` at a time, inside the caller's transaction (one
    snapshot for the whole read)."""
    if conn.dialect.name == "sqlite":
        cursor = conn.execute(statement).cursor
        try:
            while rows := cursor.fetchmany(size):
                yield rows
        finally:
            cursor.close()
        return
    conn.execute(_Declare(_CURSOR, statement))
    driver = conn.connection.driver_connection
    assert driver is not None
    # Closed at the end of a full read; a read that stops early leaves it to the end of the
    # transaction (a CLOSE in a failed transaction would only hide the first error).
    with driver.cursor() as cursor:
        while True:
            cursor.execute(f"FETCH FORWARD {int(size)} FROM {_CURSOR}")
            rows = cursor.fetchall()
            if not rows:
                break
            yield rows
        cursor.execute(f"CLOSE {_CURSOR}")
