"""Engine construction and the per-request transaction.

Tally uses SQLAlchemy Core on a synchronous engine: measured 2.6x faster than the async
engine over aiosqlite on SQLite writes (DESIGN.md section 8).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_db_engine(url: str, *, pool_size: int = 10, sqlite_begin: str = "DEFERRED") -> Engine:
    """An engine for ``url``. On SQLite, ``sqlite_begin`` is how its transactions begin:
    IMMEDIATE for writers, so they take the write lock up front instead of failing on a lock
    upgrade half-way through a transaction."""
    # orjson both ways: faster than the json module, and its reader turns the over-long
    # integers that jsonb prints for large floats (1e20 -> 100000000000000000000) back into
    # floats, so a value reads back as it was written on both engines.
    codecs: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if is_sqlite(url):
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=pool_size * 4,
            **codecs,
        )
        _configure_sqlite(engine, sqlite_begin)
        return engine
    return sa.create_engine(
        url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True, **codecs
    )


def _configure_sqlite(engine: Engine, begin_mode: str) -> None:
    if begin_mode not in ("DEFERRED", "IMMEDIATE"):
        raise ValueError(f"unknown SQLite begin mode {begin_mode}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver: Tally emits BEGIN itself (below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    # The dialect's own begin hook, not a connection "begin" event: any connection event
    # makes SQLAlchemy dispatch events around every statement, a measurable cost per query.
    statement = f"BEGIN {begin_mode}"

    def do_begin(dbapi_conn: Any) -> None:
        dbapi_conn.execute(statement)

    engine.dialect.do_begin = do_begin  # type: ignore[method-assign,assignment]


_BEFORE_COMMIT = "tally.before_commit"


def before_commit(conn: Connection, key: str, work: Callable[[Connection], None]) -> None:
    """Run ``work`` once, just before this transaction commits (the last registration under
    ``key`` wins). Lets repeated small writes in one request become one statement."""
    conn.info.setdefault(_BEFORE_COMMIT, {})[key] = work


class Database:
    """The process's engines: one for readers and, on SQLite, one whose transactions take
    the write lock when they begin."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_db_engine(url, pool_size=pool_size)
        self._writer = (
            create_db_engine(url, pool_size=pool_size, sqlite_begin="IMMEDIATE")
            if is_sqlite(url)
            else self.engine
        )

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises.

        Work registered with ``before_commit`` runs last, inside the transaction."""
        with (self._writer if write else self.engine).begin() as conn:
            # conn.info lives with the pooled DBAPI connection: drop whatever a failed
            # transaction left there (pending work, buffered counter deltas).
            for key in [k for k in conn.info if isinstance(k, str) and k.startswith("tally.")]:
                del conn.info[key]
            yield conn
            for work in conn.info.pop(_BEFORE_COMMIT, {}).values():
                work(conn)

    def dispose(self) -> None:
        self.engine.dispose()
        self._writer.dispose()
