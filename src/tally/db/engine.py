"""Engine construction and the per-request transaction.

Tally uses SQLAlchemy Core on a synchronous engine: measured 2.6x faster than the async
engine over aiosqlite on SQLite writes (DESIGN.md section 8).
"""

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from tally.db.checkpoints import Checkpointer
from tally.db.locks import FileLocks, lock_file_path
from tally.db.read_cache import ReadCache

T = TypeVar("T")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# Compiled statements each SQLite connection keeps (the driver's default is 128). A
# statement evicted is compiled again on its next use: a one-row select by key then takes
# 13 us instead of 4. A server's connections outlive thousands of requests of every kind,
# and the API's statements number in the hundreds (415 distinct ones in the tests of
# orders, redemptions, validations, vouchers, customers, products, promotions and
# campaigns), so the default would keep evicting them.
SQLITE_CACHED_STATEMENTS = 1024


def create_db_engine(
    url: str,
    *,
    pool_size: int = 10,
    sqlite_begin: str = "DEFERRED",
    sqlite_busy_seconds: float = 30,
    sqlite_autocheckpoint: bool = True,
) -> Engine:
    """An engine for ``url``. On SQLite, ``sqlite_begin`` is how its transactions begin:
    IMMEDIATE for writers, so they take the write lock up front instead of failing on a lock
    upgrade half-way through a transaction; ``sqlite_busy_seconds`` is how long a statement
    waits for a lock another connection holds; ``sqlite_autocheckpoint`` off leaves WAL
    checkpoints to a :class:`Checkpointer`."""
    # orjson both ways: faster than the json module, and its reader turns the over-long
    # integers that jsonb prints for large floats (1e20 -> 100000000000000000000) back into
    # floats, so a value reads back as it was written on both engines.
    codecs: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if is_sqlite(url):
        engine = sa.create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": sqlite_busy_seconds,
                "cached_statements": SQLITE_CACHED_STATEMENTS,
            },
            pool_size=pool_size,
            max_overflow=pool_size * 4,
            **codecs,
        )
        _configure_sqlite(engine, sqlite_begin, sqlite_autocheckpoint)
        return engine
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_pre_ping=True,
        # No server-side prepared statements: psycopg prepares a statement after five runs
        # and PostgreSQL then keeps a generic plan, which made while tables were empty
        # scans them whole later (each import of 2,000 orders into a new database took
        # longer than the last: 10, 16, 24, 29 s). Unprepared, every statement is planned
        # for its parameters and today's table sizes; it also suits PgBouncer's transaction
        # pooling, and leaves the URL's own connection options alone.
        connect_args={"prepare_threshold": None},
        **codecs,
    )


def _null(_value: None) -> None:
    return None


# The sqlite3 module binds None only after its adapter lookup failed twice (two
# AttributeErrors formatted and dropped): 0.25 us a NULL, and a create binds a dozen. With
# an adapter for None the first lookup answers. Process-wide, and the same NULL bound.
sqlite3.register_adapter(type(None), _null)


def _configure_sqlite(engine: Engine, begin_mode: str, autocheckpoint: bool) -> None:
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
        if not autocheckpoint:
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    # The dialect's own begin hook, not a connection "begin" event: any connection event
    # makes SQLAlchemy dispatch events around every statement, a measurable cost per query.
    statement = f"BEGIN {begin_mode}"

    def do_begin(dbapi_conn: Any) -> None:
        # Already inside a transaction Tally began on the driver (Database.quick_transaction):
        # SQLAlchemy joins it instead of beginning a second one.
        if not dbapi_conn.in_transaction:
            dbapi_conn.execute(statement)

    engine.dialect.do_begin = do_begin  # type: ignore[method-assign,assignment]


_BEFORE_COMMIT = "tally.before_commit"
# How many times work was left for the commit on a connection: a request of a batch that
# failed having left some has changed the batch, even if it wrote no row.
_LEFT = "tally.work_left"


def before_commit(conn: Connection, key: str, work: Callable[[Connection], None]) -> None:
    """Run ``work`` once, just before this transaction commits (the last registration under
    ``key`` wins). Lets repeated small writes in one request, or in the requests of one
    batch, become one statement."""
    info = conn.info
    info.setdefault(_BEFORE_COMMIT, {})[key] = work
    info[_LEFT] = info.get(_LEFT, 0) + 1


def _run_before_commit(conn: Connection, info: dict[Any, Any]) -> None:
    """The work left for the commit (:func:`before_commit`), done now: just before the
    commit, or at the end of a request's part of a batch."""
    pending = info.pop(_BEFORE_COMMIT, None)
    if pending:
        for later in pending.values():
            later(conn)


def _forget_work(info: dict[Any, Any]) -> None:
    """A connection's info lives with the DBAPI connection: drop whatever a failed
    transaction left there (pending work, buffered counter deltas)."""
    for key in [k for k in info if isinstance(k, str) and k.startswith("tally.")]:
        del info[key]


def _commit_kept(conn: Connection, driver: Any, info: dict[Any, Any]) -> None:
    """End a kept connection's transaction begun on the driver: the work it left for
    the commit, then the commit, through SQLAlchemy if a statement made it begin too."""
    _run_before_commit(conn, info)
    if conn.in_transaction():
        conn.commit()
    else:
        driver.commit()


def _roll_back_kept(conn: Connection, driver: Any) -> None:
    # Whatever failed, a commit included, the kept connection must be left with no
    # transaction open, or the next request could not begin one.
    conn.rollback()  # also clears SQLAlchemy's state after a failed commit
    if driver.in_transaction:
        driver.rollback()


# The page cache of a connection kept for quick work, in KiB (SQLite's default: 2,000).
_KEPT_CACHE_KIB = 16_384


class _Kept(NamedTuple):
    """A connection a thread keeps for quick transactions, with its driver connection, info
    dict and, for SQLite's reader, the answers it keeps (:mod:`tally.db.read_cache`)."""

    conn: Connection
    driver: Any
    info: dict[Any, Any]
    cache: ReadCache | None


class WouldWait(Exception):
    """The write lock is held elsewhere, and the caller asked not to wait for it."""


class BatchLost(Exception):
    """A batch of writes ended without being committed (see :meth:`Database.begin_batch`):
    none of its writes are in the database."""


def is_busy(exc: Exception) -> bool:
    """Whether ``exc`` is SQLite's "database is locked" (or "busy")."""
    text = str(exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc).lower()
    return "locked" in text or "busy" in text


class Database:
    """The process's engines: one for readers and, on SQLite, writers whose transactions take
    the write lock when they begin, one writer of this process at a time.

    ``background_checkpoints`` (SQLite, serving processes): WAL checkpoints run on a thread
    of their own instead of inside commits (see :mod:`tally.db.checkpoints`)."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        background_checkpoints: bool = False,
        busy_seconds: float = 30,
        mmap_bytes: int = 0,
    ) -> None:
        self.url = url
        # SQLite: the memory map of the connections kept for quick work (see _keep).
        self._mmap_bytes = mmap_bytes
        # SQLite: how long a writer waits for another process's write lock.
        self.busy_seconds = busy_seconds
        self.is_sqlite = is_sqlite(url)
        path = sa.engine.make_url(url).database if self.is_sqlite else None
        checkpoints = background_checkpoints and path not in (None, "", ":memory:")
        self.engine = create_db_engine(
            url, pool_size=pool_size, sqlite_autocheckpoint=not checkpoints
        )
        self._writer = self.engine
        self._writer_nowait = self.engine
        # SQLite admits one writer at a time. Queueing this process's writers on a lock
        # hands the database over at once, where SQLite's busy handler sleeps and polls.
        self._write_gate: threading.Lock | None = None
        self._queued = 0
        self._queue_lock = threading.Lock()
        # Connections kept by threads for quick_transaction, closed by dispose().
        self._held = threading.local()
        self._held_lock = threading.Lock()
        self._all_held: list[Connection] = []
        self._read_caches: list[ReadCache] = []
        self._checkpointer: Checkpointer | None = None
        # SQLite: the order sessions' locks (tally.db.locks); PostgreSQL keeps its own.
        self.file_locks: FileLocks | None = None
        # Called, from whichever thread, each time this process's write gate is given back:
        # the event loop's waiting writers retry then instead of at their next poll.
        self.on_gate_given: Callable[[], None] | None = None
        if self.is_sqlite:
            self.file_locks = FileLocks(lock_file_path(path))
            self._write_gate = threading.Lock()
            self._writer = create_db_engine(
                url,
                pool_size=pool_size,
                sqlite_begin="IMMEDIATE",
                sqlite_busy_seconds=busy_seconds,
                sqlite_autocheckpoint=not checkpoints,
            )
            self._writer_nowait = create_db_engine(
                url,
                pool_size=1,
                sqlite_begin="IMMEDIATE",
                sqlite_busy_seconds=0,
                sqlite_autocheckpoint=not checkpoints,
            )
            if checkpoints:
                assert path is not None
                self._checkpointer = Checkpointer(path, self._gate)
                self._checkpointer.start()

    @contextmanager
    def _gate(self, *, wait: bool = True) -> Iterator[None]:
        self._take_gate(wait=wait)
        try:
            yield
        finally:
            self._give_gate()

    def _take_gate(self, *, wait: bool) -> None:
        gate = self._write_gate
        if gate is None:
            return
        if wait:
            # Counted while queued: a writer that will not wait must not overtake writers
            # that do, or under load they would starve (seen: p99 0.65 s).
            with self._queue_lock:
                self._queued += 1
            try:
                gate.acquire()
            finally:
                with self._queue_lock:
                    self._queued -= 1
        elif self._queued or not gate.acquire(blocking=False):
            raise WouldWait

    def _give_gate(self, *, notify: bool = True) -> None:
        if self._write_gate is not None:
            self._write_gate.release()
            if notify and self.on_gate_given is not None:
                self.on_gate_given()

    @property
    def queued_writers(self) -> int:
        """Threads of this process waiting for its write gate (for tests and diagnostics)."""
        return self._queued

    @property
    def checkpointer(self) -> Checkpointer | None:
        return self._checkpointer

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises.

        Work registered with ``before_commit`` runs last, inside the transaction."""
        if not write:
            with self.engine.connect() as conn, self._work(conn):
                yield conn
            return
        with self._gate(), self._writer.connect() as conn, self._work(conn):
            yield conn

    @contextmanager
    def quick_transaction(self, *, write: bool) -> Iterator[Connection]:
        """A transaction for short work on SQLite that must not wait: a write raises
        :class:`WouldWait` (nothing done) when another writer holds the lock. A write is a
        batch of one (:meth:`begin_batch`); the server's requests share batches instead.

        Runs on a connection the calling thread keeps, begun and ended on the driver: for
        the event loop, where a pool checkout and SQLAlchemy's transaction bookkeeping
        cost as much as the lookup itself. Statements run through SQLAlchemy join it."""
        if not write:
            with self._read_transaction(self._held_connection(self.engine)) as conn:
                yield conn
            return
        # A batch of one request (tally.web.batches runs more than one in a batch).
        kept = self.begin_batch()
        try:
            with self._savepoint(kept) as conn:
                yield conn
        except BaseException:
            self.end_batch(kept, commit=False)
            raise
        self.end_batch(kept, commit=True)

    def begin_batch(self) -> "_Kept":
        """Begin a write transaction that several quick writes of the calling thread share
        (SQLite, the event loop: see :mod:`tally.web.batches`), each in a savepoint of its
        own (:meth:`in_batch`). This process's write gate is held until :meth:`end_batch`.
        Raises :class:`WouldWait` (nothing begun) when another writer holds the lock."""
        self._take_gate(wait=False)
        try:
            kept = self._held_connection(self._writer_nowait)
            if kept.info:
                _forget_work(kept.info)
            try:
                kept.driver.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if is_busy(exc):
                    raise WouldWait from exc
                raise
        except BaseException:
            # Given back without a word: the database is no freer than before (another
            # process holds it), and waiting writers told to retry would retry at once,
            # again and again, until it is.
            self._give_gate(notify=False)
            raise
        return kept

    def in_batch(self, kept: "_Kept", work: Callable[[Connection], T], *, isolated: bool) -> T:
        """``work`` in the batch ``kept``: all of it stays, or none of it. The work it left
        for the commit (:func:`before_commit`) is done with that of the batch's other
        requests, at the batch's commit (:meth:`end_batch`).

        ``isolated``: in a savepoint of its own, so that its failure undoes its writes
        alone. Otherwise, when it fails after writing, the whole transaction is rolled back,
        the other requests' writes with it. A savepoint costs every request of a batch
        after the first a copy of each page it changes that the batch had changed before it
        (the right-most pages of every index it writes): redemptions and creates took 4-7%
        longer each in process. Requests fail after writing seldom, and the others of their
        batch have not been answered: they run again (:class:`tally.web.batches.Batches`).

        When it fails and the whole transaction is gone (rolled back here, or by SQLite
        after a full disk or an I/O error), :meth:`batch_lost` is true afterwards. An
        ``isolated`` one first does the work the requests before it left for the commit;
        when that fails, the batch is rolled back and :class:`BatchLost` raised."""
        if isolated:
            with self._savepoint(kept) as conn:
                return work(conn)
        conn, driver, info, _cache = kept
        changes = driver.total_changes
        left = info.get(_LEFT, 0)
        try:
            # The work it leaves for the commit (counter changes) is done once for the whole
            # batch, at its commit: one statement instead of one a request.
            result = work(conn)
        except BaseException as exc:
            # A request refused before it wrote anything (most are: not found, invalid)
            # leaves the batch as it was, the work its others left for the commit included.
            if driver.total_changes != changes or info.get(_LEFT, 0) != left:
                _forget_work(info)
                if driver.in_transaction:
                    driver.rollback()
            if isinstance(exc, (sa.exc.OperationalError, sqlite3.OperationalError)) and is_busy(
                exc
            ):
                raise WouldWait from exc
            raise
        # A statement it left running (a cursor not read to its end) would fail the batch's
        # commit, and every request of it again when run again: SQLite refuses a savepoint
        # meanwhile, so this empty one fails the request that left it.
        try:
            driver.execute("SAVEPOINT done")
            driver.execute("RELEASE done")
        except BaseException:
            del result  # the statement, if its result holds it, ends with it
            _forget_work(info)
            if driver.in_transaction:
                driver.rollback()
            raise
        return result

    @contextmanager
    def _savepoint(self, kept: "_Kept") -> Iterator[Connection]:
        conn, driver, info, _cache = kept
        # What the batch's requests before it left for the commit is done first: undoing
        # this request must not forget it. That work is theirs: when it fails (an I/O
        # error, a full disk), the batch is lost and each of its requests runs again, this
        # one too, rather than this one refused and theirs answered without it.
        try:
            _run_before_commit(conn, info)
        except BaseException as exc:
            _forget_work(info)
            if driver.in_transaction:
                driver.rollback()
            if isinstance(exc, Exception):
                raise BatchLost(f"the work left for the commit failed: {exc}") from exc
            raise
        driver.execute("SAVEPOINT request")
        try:
            yield conn
            _run_before_commit(conn, info)
            driver.execute("RELEASE request")
        except BaseException as exc:
            _forget_work(info)
            if driver.in_transaction:
                try:
                    driver.execute("ROLLBACK TO request")
                    driver.execute("RELEASE request")
                except sqlite3.Error:
                    # Not undone alone (a statement still running, say): the whole batch
                    # is undone and its other requests run again, rather than this one's
                    # writes committed with theirs.
                    driver.rollback()
            if isinstance(exc, (sa.exc.OperationalError, sqlite3.OperationalError)) and is_busy(
                exc
            ):
                raise WouldWait from exc
            raise

    @staticmethod
    def batch_lost(kept: "_Kept") -> bool:
        """Whether the batch's transaction has ended without its commit."""
        return not kept.driver.in_transaction

    def end_batch(self, kept: "_Kept", *, commit: bool) -> None:
        """Commit (or roll back) the batch ``kept`` and hand the write gate on. A failed
        commit is rolled back, then raised; a batch SQLite already rolled back raises
        :class:`BatchLost`."""
        conn, driver, info, _cache = kept
        try:
            if not commit:
                _forget_work(info)
                _roll_back_kept(conn, driver)
            elif not driver.in_transaction:
                _forget_work(info)
                _roll_back_kept(conn, driver)  # SQLAlchemy's account of it too
                raise BatchLost("the transaction was rolled back before its commit")
            else:
                _commit_kept(conn, driver, info)
        except BaseException:
            _forget_work(info)
            _roll_back_kept(conn, driver)
            raise
        finally:
            self._give_gate()

    def quick_read(self, work: Callable[[Connection], T]) -> T:
        """``work`` in a read transaction on the kept reader: ``quick_transaction(write=
        False)`` without its two context managers, which cost more than the BEGIN and
        COMMIT themselves (a get by id runs one lookup besides)."""
        conn, driver, info, cache = self._held_connection(self.engine)
        if info:
            _forget_work(info)
        driver.execute("BEGIN")
        if cache is not None:
            cache.begin()
        try:
            result = work(conn)
            _commit_kept(conn, driver, info)
        except BaseException:
            _roll_back_kept(conn, driver)
            raise
        finally:
            if cache is not None:
                cache.end()
        return result

    @contextmanager
    def _read_transaction(self, kept: "_Kept") -> Iterator[Connection]:
        conn, driver, info, cache = kept
        if info:
            _forget_work(info)
        driver.execute("BEGIN")
        if cache is not None:
            cache.begin()
        try:
            yield conn
            _commit_kept(conn, driver, info)
        except BaseException:
            _roll_back_kept(conn, driver)
            raise
        finally:
            if cache is not None:
                cache.end()

    def _held_connection(self, engine: Engine) -> "_Kept":
        held: dict[Engine, _Kept] = self._held.__dict__.setdefault("conns", {})
        kept = held.get(engine)
        if kept is None or kept.conn.closed or kept.conn.invalidated:
            conn = engine.connect()
            # The driver connection and the info dict, looked up once: through
            # SQLAlchemy's properties they cost a few microseconds a request.
            driver = conn.connection.driver_connection
            reader = self.is_sqlite and engine is self.engine
            cache = ReadCache(conn, driver) if reader else None
            replaced = kept
            kept = held[engine] = _Kept(conn, driver, conn.info, cache)
            with self._held_lock:
                self._all_held.append(conn)
                if replaced is not None and replaced.cache in self._read_caches:
                    self._read_caches.remove(replaced.cache)
                if cache is not None:
                    self._read_caches.append(cache)
            self._keep(kept.driver, reader=engine is self.engine)
        return kept

    def read_caches(self) -> list[ReadCache]:
        """The answers kept by this process's kept readers (:mod:`tally.db.read_cache`)."""
        with self._held_lock:
            return list(self._read_caches)

    def _keep(self, driver: Any, *, reader: bool) -> None:
        """SQLite settings of a connection kept for quick work: the requests of a whole
        server go through it, a lookup at a time.

        - A 16 MB page cache instead of 2 MB, which keeps the upper levels of every index
          of a large database.
        - The reader's is a memory map of the database file: a page is read where it lies
          in the OS cache instead of copied out of it by a system call (get by id on
          1,000,000 orders: +12% requests a second). Not the writer's: a page it changes is
          copied out of the map all the same, and creates and redemptions were no faster
          mapped (0-4% slower, within this machine's noise). Nor the pool's: an export's
          scan through a map would count the whole file in the process's resident memory.
        - The reader refuses every write (``query_only``): its read cache
          (:mod:`tally.db.read_cache`) takes any change to come from another connection.
        - The writer keeps its statement journals in memory (``temp_store``). A savepoint
          (an isolated request of a batch, see :meth:`in_batch`) journals every page it
          changes that the batch had changed before it: past 64 KiB SQLite spills that
          journal to a temporary file, created, written and deleted each time (when every
          request had a savepoint: half of a redemption's page writes, 4-5% of its time in
          process). The journal holds at most the pages one batch of quick writes changes.
        """
        if not self.is_sqlite:
            return
        driver.execute(f"PRAGMA cache_size=-{_KEPT_CACHE_KIB}")
        if reader:
            driver.execute("PRAGMA query_only=1")
            if self._mmap_bytes:
                driver.execute(f"PRAGMA mmap_size={int(self._mmap_bytes)}")
        else:
            driver.execute("PRAGMA temp_store=MEMORY")

    @contextmanager
    def _work(self, conn: Connection) -> Iterator[Connection]:
        with conn.begin():
            _forget_work(conn.info)
            yield conn
            _run_before_commit(conn, conn.info)

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        with self._held_lock:
            held, self._all_held = self._all_held, []
            self._read_caches = []
        for conn in held:
            conn.close()
        for engine in {self.engine, self._writer, self._writer_nowait}:
            engine.dispose()
        if self.file_locks is not None:
            self.file_locks.close()
