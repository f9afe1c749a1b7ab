"""Core statements compiled once per dialect and run on the driver's cursor.

``Connection.execute`` costs about 35 us a statement in SQLAlchemy itself (execution
context, cache lookup, result metadata): more than SQLite's own work on a one-row lookup or
insert, and an order create runs seven of them. A :class:`Prepared` statement is compiled
once per dialect; each run converts the parameters with the types' own bind processors,
calls the DBAPI cursor, and reads rows with the types' own result processors: the same
values SQLAlchemy would give, for about 8 us.

Only plain statements qualify: no expanding ``IN`` and no Python-side column defaults
(both checked when compiled); every required bind parameter is given on each call.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from tally.db import read_cache

# What a read gives: a plain dict here, a RowMapping where SQLAlchemy ran the query.
Row = Mapping[Any, Any]
_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Positional paramstyles (SQLite's qmark): parameter names in order; None for named
    # paramstyles (psycopg's pyformat), which take the mapping itself.
    positions: tuple[str, ...] | None
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]
    # Values the statement carries itself (literals SQLAlchemy made parameters of).
    defaults: dict[str, Any]
    keys: tuple[str, ...]
    results: tuple[_Processor, ...]
    # (key, processor) of the columns whose values are converted.
    processed: tuple[tuple[str, Callable[[Any], Any]], ...]


class Prepared:
    def __init__(self, statement: sa.Executable) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            compiled = self._by_dialect[dialect.name] = _compile(self.statement, dialect)
        return compiled

    def run(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Execute; returns the DBAPI cursor (its ``rowcount`` and rows)."""
        compiled = self._compiled(conn.dialect)
        if compiled.defaults or compiled.binds:
            params = {**compiled.defaults, **params}  # the caller's mapping stays as it was
            for name, process in compiled.binds:
                params[name] = process(params[name])
        driver = conn.connection.driver_connection
        cursor = driver.cursor()  # type: ignore[union-attr]
        args = params if compiled.positions is None else [params[n] for n in compiled.positions]
        try:
            cursor.execute(compiled.sql, args)
        except conn.dialect.loaded_dbapi.Error as exc:
            cursor.close()
            _raise_wrapped(conn, compiled.sql, args, exc, driver)
        return cursor

    def write_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute an INSERT/UPDATE once per row of parameters, in one driver call."""
        compiled = self._compiled(conn.dialect)
        batch = []
        for params in rows:
            if compiled.defaults or compiled.binds:
                params = {**compiled.defaults, **params}
                for name, process in compiled.binds:
                    params[name] = process(params[name])
            batch.append(
                params if compiled.positions is None else [params[n] for n in compiled.positions]
            )
        driver = conn.connection.driver_connection
        cursor = driver.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(compiled.sql, batch)
        except conn.dialect.loaded_dbapi.Error as exc:
            cursor.close()
            _raise_wrapped(conn, compiled.sql, batch, exc, driver)
        cursor.close()

    def copy_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """PostgreSQL: the rows of this plain INSERT sent with COPY FROM STDIN, their values
        converted as :meth:`write_many` converts them. Many rows at once cost a few times
        less than an executemany, even pipelined: one statement, no per-row plan."""
        insert = self.statement
        if not isinstance(insert, sa.Insert) or conn.dialect.name != "postgresql":
            raise ValueError("COPY takes a plain INSERT on PostgreSQL")
        compiled = self._compiled(conn.dialect)
        processors = dict(compiled.binds)
        columns = tuple(rows[0]) if rows else ()
        quote = conn.dialect.identifier_preparer
        sql = (
            f"COPY {quote.format_table(insert.table)} "
            f"({', '.join(quote.quote(name) for name in columns)}) FROM STDIN"
        )
        driver = conn.connection.driver_connection
        cursor = driver.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(sql) as copy:
                for params in rows:
                    copy.write_row(
                        [
                            processors[name](params[name]) if name in processors else params[name]
                            for name in columns
                        ]
                    )
        except conn.dialect.loaded_dbapi.Error as exc:
            cursor.close()
            _raise_wrapped(conn, sql, None, exc, driver)
        cursor.close()

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Row | None:
        cursor = self.run(conn, params)
        try:
            values = cursor.fetchone()
        finally:
            cursor.close()
        if values is None:
            return None
        return self._row(self._compiled(conn.dialect), values)

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[Row]:
        return self._rows(conn, self._fetched(conn, params))

    def _fetched(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """The rows as the driver gives them."""
        cursor = self.run(conn, params)
        try:
            rows: list[Any] = cursor.fetchall()
            return rows
        finally:
            cursor.close()

    def _rows(self, conn: Connection, fetched: list[Any]) -> list[Row]:
        compiled = self._compiled(conn.dialect)
        return [self._row(compiled, values) for values in fetched]

    def all_kept(self, conn: Connection, params: Mapping[str, Any]) -> list[Row]:
        """:meth:`all`, answered from the kept reader's cache when this snapshot of the
        database was read for the same parameters before (:mod:`tally.db.read_cache`). The
        rows are shared with later answers: the caller must not change them."""
        cache = read_cache.current()
        if cache is None:
            return self.all(conn, params)
        key = (self, tuple(params.items()))
        rows = cache.get(conn, key)
        if rows is None:
            fetched = self._fetched(conn, params)
            rows = self._rows(conn, fetched)
            cache.keep(conn, key, rows, _answer_size(params, fetched))
        return list(rows)

    def write(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Execute an INSERT/UPDATE/DELETE; returns the number of rows it touched."""
        cursor = self.run(conn, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    @staticmethod
    def _row(compiled: _Compiled, values: Any) -> dict[str, Any]:
        # Most columns need no conversion: the row is built whole, then the others are
        # converted in place.
        row = dict(zip(compiled.keys, values, strict=True))
        for key, process in compiled.processed:
            value = row[key]
            if value is not None:
                row[key] = process(value)
        return row


# What a kept answer holds besides its text, in bytes: the objects around each value (a
# dict entry, an int, a datetime: 66 bytes on average measured on vouchers' rows), and the
# answer's key and list.
_PER_VALUE = 100
_PER_ANSWER = 200


def _answer_size(params: Mapping[str, Any], rows: list[Any]) -> int:
    """The memory a kept answer takes, estimated from above from its rows as the driver
    gave them (JSON columns are text until read) and its parameters."""
    size = _PER_ANSWER
    for value in params.values():
        size += _PER_VALUE + (len(value) if isinstance(value, str) else 0)
    for values in rows:
        for value in values:
            size += _PER_VALUE
            if isinstance(value, (str, bytes)):
                size += len(value)
    return size


def _raise_wrapped(conn: Connection, sql: str, args: Any, exc: Exception, driver: Any) -> NoReturn:
    """Raise the driver's error as SQLAlchemy would (IntegrityError, OperationalError, ...),
    so callers catch one family of errors whichever path ran the statement."""
    dialect = conn.dialect
    invalidated = dialect.is_disconnect(exc, driver, None)  # type: ignore[arg-type]
    if invalidated:
        conn.invalidate(exc)
    raise sa.exc.DBAPIError.instance(
        sql,
        args,
        exc,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=invalidated,
        dialect=dialect,
    ) from exc


def _compile(statement: sa.Executable, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    if compiled.insert_prefetch or compiled.update_prefetch or compiled.literal_execute_params:
        raise ValueError(f"not a plain statement (defaults or expanding IN): {compiled}")
    if any(b.expanding for b in compiled.binds.values()):
        raise ValueError(f"expanding IN cannot be prepared: {compiled}")
    processors = compiled._bind_processors
    # The name each bind parameter is given under (its key); positiontup lists those keys.
    binds: list[tuple[str, Callable[[Any], Any]]] = []
    for name, processor in processors.items():
        if processor is None:
            continue
        if not callable(processor):
            raise ValueError(f"tuple-valued bind parameter cannot be prepared: {name}")
        binds.append((name, processor))
    defaults = {
        compiled.bind_names[bind]: bind.effective_value
        for bind in compiled.binds.values()
        if not bind.required
    }
    positions = tuple(compiled.positiontup) if compiled.positiontup is not None else None
    keys: list[str] = []
    results: list[_Processor] = []
    for entry in compiled._result_columns:
        keys.append(entry.keyname)
        results.append(entry.type._cached_result_processor(dialect, None))
    if len(set(keys)) < len(keys):
        raise ValueError(f"result columns share a name: {keys}")
    processed = tuple(
        (key, process) for key, process in zip(keys, results, strict=True) if process is not None
    )
    return _Compiled(
        compiled.string, positions, tuple(binds), defaults, tuple(keys), tuple(results), processed
    )
