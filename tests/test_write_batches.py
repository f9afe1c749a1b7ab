"""Group commit of the event loop's writes (SQLite, tally.web.batches): requests of one turn
share one commit, each stays all or nothing, none is answered before the commit, and a
batch whose transaction is lost (or undone by a request that failed) has its requests run
again, each written once."""

import asyncio
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.db.engine import BatchLost, Database, before_commit
from tally.web import batches as batches_module
from tally.web.batches import MAX_REQUESTS, Batches
from tally.web.runtime import Runtime
from tally.web.transactions import run_transaction

T = TypeVar("T")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "batches.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    conn.close()
    database = Database(f"sqlite:///{path}", pool_size=1)
    try:
        yield database
    finally:
        database.dispose()


async def _soon(awaitable: Awaitable[T]) -> T:
    """``awaitable`` awaited for at most 10 s: a commit that never comes fails the test
    instead of hanging it."""
    return await asyncio.wait_for(awaitable, 10)


def _committed(db: Database) -> list[int]:
    """The rows another connection sees: committed ones only."""
    with closing(sqlite3.connect(db.url.removeprefix("sqlite:///"))) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM t ORDER BY id")]


def _insert(*ids: int) -> Callable[[Connection], int]:
    def work(conn: Connection) -> int:
        for id_ in ids:
            conn.execute(sa.text("INSERT INTO t (id) VALUES (:id)"), {"id": id_})
        return ids[0]

    return work


def _leaves(id_: int, later: int, runs: list[int]) -> Callable[[Connection], int]:
    """Inserts ``id_`` and leaves the insert of ``later`` for the commit (the last left
    under one key wins); each time that work is done, ``runs`` hears of it."""

    def done_later(conn: Connection) -> None:
        runs.append(later)
        _insert(later)(conn)

    def work(conn: Connection) -> int:
        before_commit(conn, "later", done_later)
        return _insert(id_)(conn)

    return work


def test_the_writes_of_one_turn_share_one_commit_and_wait_for_it(db: Database) -> None:
    async def scenario() -> None:
        batches = Batches(db)
        joined = [batches.run(_insert(n)) for n in (1, 2, 3)]
        assert [result for result, _ in joined] == [1, 2, 3]
        # Done, but not committed: nobody may be answered yet.
        assert not any(done.done() for _, done in joined)
        assert _committed(db) == []
        await _soon(asyncio.gather(*(done for _, done in joined)))
        assert _committed(db) == [1, 2, 3]
        assert (batches.commits, batches.members) == (1, 3)
        # The next turn's writes make a batch of their own.
        _, done = batches.run(_insert(4))
        await _soon(done)
        assert (batches.commits, batches.members) == (2, 4)

    asyncio.run(scenario())


def test_a_batch_takes_at_most_its_share_and_the_rest_go_in_the_next(
    db: Database, tmp_path: Path
) -> None:
    async def scenario() -> None:
        runtime = Runtime(db, exports_dir=tmp_path)
        count = MAX_REQUESTS + 2
        writers = [
            asyncio.create_task(run_transaction(runtime, _insert(n), write=True, quick=True))
            for n in range(1, count + 1)
        ]
        assert await _soon(asyncio.gather(*writers)) == list(range(1, count + 1))
        assert (runtime.batches.commits, runtime.batches.members) == (2, count)

    asyncio.run(scenario())
    assert _committed(db) == list(range(1, MAX_REQUESTS + 3))


def _fails(conn: Connection) -> None:
    _insert(10, 11)(conn)
    # Work left for the commit by the failed request must not run either.
    before_commit(conn, "later", _insert(12))
    raise RuntimeError("refused")


def test_a_failed_request_undoes_its_batch_and_the_others_run_again(
    db: Database, tmp_path: Path
) -> None:
    runs: list[int] = []

    def counted(n: int, later: int | None = None) -> Callable[[Connection], int]:
        def work(conn: Connection) -> int:
            runs.append(n)
            if later is not None:
                before_commit(conn, "later", _insert(later))
            return _insert(n)(conn)

        return work

    async def scenario() -> None:
        runtime = Runtime(db, exports_dir=tmp_path)
        first = asyncio.create_task(
            run_transaction(runtime, counted(1, later=2), write=True, quick=True)
        )
        second = asyncio.create_task(run_transaction(runtime, _fails, write=True, quick=True))
        third = asyncio.create_task(run_transaction(runtime, counted(20), write=True, quick=True))
        assert await _soon(first) == 1
        with pytest.raises(RuntimeError):
            await _soon(second)
        assert await _soon(third) == 20
        # The first ran without a savepoint, and the second's failure undid it: it ran again
        # (in the third's batch, which the failure had not touched), written once.
        assert runs == [1, 20, 1]
        assert _committed(db) == [1, 2, 20]
        assert (runtime.batches.commits, runtime.batches.members) == (1, 2)

    asyncio.run(scenario())


def test_a_request_refused_before_it_wrote_leaves_its_batch_be(db: Database) -> None:
    """Its batch keeps the others' writes, and the work they left for the commit."""
    runs: list[int] = []

    def refused(conn: Connection) -> None:
        conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
        raise LookupError("not found")

    async def scenario() -> None:
        batches = Batches(db)
        first = batches.run(_leaves(1, 12, runs))
        with pytest.raises(LookupError):
            batches.run(refused)
        last = batches.run(_insert(2))
        await _soon(asyncio.gather(first[1], last[1]))
        assert runs == [12]
        assert _committed(db) == [1, 2, 12]
        assert (batches.commits, batches.members) == (1, 2)

    asyncio.run(scenario())


def test_a_request_run_again_is_isolated_and_so_are_those_after_it(db: Database) -> None:
    async def scenario() -> None:
        batches = Batches(db)
        first = batches.run(_insert(1))
        again = batches.run(_insert(2), isolated=True)
        # In a savepoint now: its failure undoes its own writes only.
        with pytest.raises(RuntimeError):
            batches.run(_fails)
        await _soon(asyncio.gather(first[1], again[1]))
        assert _committed(db) == [1, 2]
        assert (batches.commits, batches.members) == (1, 2)

    asyncio.run(scenario())


def test_a_request_undone_once_is_not_undone_again_by_a_later_failure(
    db: Database, tmp_path: Path
) -> None:
    runs: list[int] = []

    def counted(conn: Connection) -> int:
        runs.append(1)
        return _insert(1)(conn)

    async def fails_a_turn_later() -> None:
        await asyncio.sleep(0)  # behind the first request's second run, in its batch
        await run_transaction(runtime, _fails, write=True, quick=True)

    async def scenario() -> None:
        first = asyncio.create_task(run_transaction(runtime, counted, write=True, quick=True))
        second = asyncio.create_task(run_transaction(runtime, _fails, write=True, quick=True))
        third = asyncio.create_task(fails_a_turn_later())
        assert await _soon(first) == 1
        for failed in (second, third):
            with pytest.raises(RuntimeError):
                await _soon(failed)
        # Undone by the second, run again isolated: the third's failure undid only itself.
        assert runs == [1, 1]
        assert _committed(db) == [1]

    runtime = Runtime(db, exports_dir=tmp_path)
    asyncio.run(scenario())


def _left_then_failed(conn: Connection) -> None:
    """Fails having written no row, but with work left for the commit: that work is in the
    batch now, so the batch is undone as if it had written."""
    before_commit(conn, "later", _insert(12))
    raise RuntimeError("refused")


@pytest.mark.parametrize("failing", [_fails, _left_then_failed], ids=["wrote", "left-work"])
def test_a_failure_without_a_savepoint_leaves_nothing_of_its_batch(
    db: Database, failing: Callable[[Connection], None]
) -> None:
    async def scenario() -> None:
        batches = Batches(db)
        first = batches.run(_insert(1))
        with pytest.raises(RuntimeError):
            batches.run(failing)
        with pytest.raises(BatchLost):
            await _soon(first[1])  # to be run again by its caller
        assert _committed(db) == []
        assert batches.commits == 0
        # The next request begins a batch of its own, with nothing left over.
        _, done = batches.run(_insert(3))
        await _soon(done)
        assert _committed(db) == [3]

    asyncio.run(scenario())


def test_a_request_whose_savepoint_will_not_release_is_not_committed(
    db: Database, tmp_path: Path
) -> None:
    def leaves_a_statement_running(conn: Connection) -> object:
        driver = conn.connection.driver_connection
        assert driver is not None
        # Returned with its row not fetched: the statement still runs when the savepoint
        # is released, and SQLite refuses to release it.
        return driver.execute("INSERT INTO t (id) VALUES (2) RETURNING id")

    async def scenario() -> None:
        runtime = Runtime(db, exports_dir=tmp_path)
        first = asyncio.create_task(run_transaction(runtime, _insert(1), write=True, quick=True))
        second = asyncio.create_task(
            run_transaction(runtime, leaves_a_statement_running, write=True, quick=True)
        )
        assert await _soon(first) == 1
        with pytest.raises(sqlite3.OperationalError, match="in progress"):
            await _soon(second)
        assert await _soon(run_transaction(runtime, _insert(3), write=True, quick=True)) == 3

    asyncio.run(scenario())
    assert _committed(db) == [1, 3]


def test_writers_waiting_for_another_process_poll_instead_of_spinning(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batches_module, "_RETRY_FIRST", 0.05)
    monkeypatch.setattr(batches_module, "_RETRY_MAX", 0.05)
    other = sqlite3.connect(db.url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's writer

    async def scenario() -> None:
        runtime = Runtime(db, exports_dir=tmp_path)
        started = time.monotonic()
        writer = asyncio.create_task(run_transaction(runtime, _insert(1), write=True, quick=True))
        await asyncio.sleep(0.3)
        elapsed = time.monotonic() - started
        assert runtime.write_waiting.count == 1
        # One retry every 50 ms at most. Each failed try used to hand the write gate back
        # with a wake-up, and the writer retried every other turn of the loop (thousands).
        assert runtime.write_waiting.ticks <= 2 + elapsed / 0.05
        other.execute("ROLLBACK")
        assert await _soon(writer) == 1

    try:
        asyncio.run(scenario())
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
    assert _committed(db) == [1]


def test_closing_commits_the_open_batch(db: Database) -> None:
    async def scenario() -> None:
        batches = Batches(db)
        _, done = batches.run(_insert(1))
        batches.close()  # at shutdown, without waiting for the next turn
        assert done.done() and _committed(db) == [1]
        await done

    asyncio.run(scenario())


def test_a_lost_batch_has_its_requests_run_again_and_written_once(
    db: Database, tmp_path: Path
) -> None:
    runs: list[int] = []

    def counted(n: int) -> Callable[[Connection], int]:
        def work(conn: Connection) -> int:
            runs.append(n)
            return _insert(n)(conn)

        return work

    def loses_the_transaction(conn: Connection) -> None:
        _insert(2)(conn)
        # What SQLite does after an I/O error or a full disk: the whole transaction,
        # the other requests' writes with it, is rolled back.
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute("ROLLBACK")
        raise RuntimeError("disk I/O error")

    async def scenario() -> None:
        runtime = Runtime(db, exports_dir=tmp_path)
        first = asyncio.create_task(run_transaction(runtime, counted(1), write=True, quick=True))
        second = asyncio.create_task(
            run_transaction(runtime, loses_the_transaction, write=True, quick=True)
        )
        # In the same turn, after the loss: a batch of its own, not the lost one.
        third = asyncio.create_task(run_transaction(runtime, counted(3), write=True, quick=True))
        assert await _soon(first) == 1
        with pytest.raises(RuntimeError):
            await _soon(second)
        assert await _soon(third) == 3
        assert runs == [1, 3, 1]  # the first one's first run was lost with the batch
        assert _committed(db) == [1, 3]
        assert runtime.batches.members == 2

    asyncio.run(scenario())


class _ThreadWriter:
    """A writer on a worker thread holding this process's write gate until ``let_go``."""

    def __init__(self, db: Database) -> None:
        self._entered, self._release = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._hold, args=(db,))

    def _hold(self, db: Database) -> None:
        with db.transaction(write=True):
            self._entered.set()
            self._release.wait(10)

    def __enter__(self) -> "_ThreadWriter":
        self._thread.start()
        assert self._entered.wait(10)
        return self

    def let_go(self, *, wait: bool = False) -> None:
        self._release.set()
        if wait:
            self._thread.join(10)

    def __exit__(self, *exc: object) -> None:
        self.let_go(wait=True)


def test_writers_that_waited_for_the_lock_get_in_together(db: Database, tmp_path: Path) -> None:
    async def scenario(holder: _ThreadWriter) -> None:
        runtime = Runtime(db, exports_dir=tmp_path)
        writers = [
            asyncio.create_task(run_transaction(runtime, _insert(n), write=True, quick=True))
            for n in range(1, 6)
        ]
        await asyncio.sleep(0.05)
        assert runtime.write_waiting.count == 5
        assert not any(writer.done() for writer in writers)
        # Let go with the loop blocked, so that no retry can fall between the holder's
        # commit and its hand-over of the lock.
        holder.let_go(wait=True)
        assert await _soon(asyncio.gather(*writers)) == [1, 2, 3, 4, 5]
        # One by one, each behind the one before, they would have made five batches.
        assert (runtime.batches.commits, runtime.batches.members) == (1, 5)
        assert runtime.write_waiting.count == 0

    with _ThreadWriter(db) as holder:
        asyncio.run(scenario(holder))
    assert _committed(db) == [1, 2, 3, 4, 5]


def test_writers_waiting_for_a_thread_retry_when_it_gives_the_lock_back(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Polls an hour apart: only the hand-over itself can make them retry in time.
    monkeypatch.setattr(batches_module, "_RETRY_FIRST", 3600.0)
    monkeypatch.setattr(batches_module, "_RETRY_MAX", 3600.0)

    async def scenario(holder: _ThreadWriter) -> None:
        runtime = Runtime(db, exports_dir=tmp_path)
        writers = [
            asyncio.create_task(run_transaction(runtime, _insert(n), write=True, quick=True))
            for n in (1, 2, 3)
        ]
        await asyncio.sleep(0.05)
        assert runtime.write_waiting.count == 3
        holder.let_go()  # it gives the lock back from its own thread
        assert await _soon(asyncio.gather(*writers)) == [1, 2, 3]
        assert (runtime.batches.commits, runtime.batches.members) == (1, 3)

    with _ThreadWriter(db) as holder:
        asyncio.run(scenario(holder))
    assert _committed(db) == [1, 2, 3]


def test_a_request_cancelled_while_it_waits_for_the_commit_leaves_the_others_be(
    db: Database,
) -> None:
    async def member(batches: Batches, n: int) -> int:
        result, done = batches.run(_insert(n))
        await done
        return result

    async def scenario() -> None:
        batches = Batches(db)
        cancelled = asyncio.create_task(member(batches, 1))
        other = asyncio.create_task(member(batches, 2))
        await asyncio.sleep(0)  # both have run their work and wait for the commit
        assert batches.members == 0 and _committed(db) == []
        cancelled.cancel()
        assert await _soon(other) == 2
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        # Its writes were done before it was cancelled: they are committed with the batch.
        assert _committed(db) == [1, 2]

    asyncio.run(scenario())


def test_the_work_a_batch_leaves_for_its_commit_is_done_once_at_the_commit(
    db: Database,
) -> None:
    runs: list[int] = []

    async def scenario() -> None:
        batches = Batches(db)
        joined = [batches.run(_leaves(n, 100 + n, runs)) for n in (1, 2, 3)]
        assert runs == []  # not after each request: once, for them all
        await _soon(asyncio.gather(*(done for _, done in joined)))
        assert runs == [103]
        assert _committed(db) == [1, 2, 3, 103]

    asyncio.run(scenario())


def test_an_isolated_request_undone_keeps_the_work_left_before_it(db: Database) -> None:
    runs: list[int] = []

    async def scenario() -> None:
        batches = Batches(db)
        first = batches.run(_leaves(1, 12, runs))
        with pytest.raises(RuntimeError):
            # Undoes its own writes and work only, not the work the first left.
            batches.run(_fails, isolated=True)
        again = batches.run(_insert(2))  # isolated too, and kept
        await _soon(asyncio.gather(first[1], again[1]))
        assert runs == [12]
        assert _committed(db) == [1, 2, 12]

    asyncio.run(scenario())


def test_a_failed_flush_of_the_work_left_before_an_isolated_request_loses_the_batch(
    db: Database,
) -> None:
    """An isolated request first does the work the batch's earlier requests left for the
    commit. When that fails (an I/O error on its statement, say), the batch is lost: the
    earlier request is not answered without its work, nor the isolated one refused for
    another's failure; both run again, and each is written once."""
    flushes: list[int] = []

    def flaky_later(conn: Connection) -> None:
        flushes.append(12)
        if len(flushes) == 1:
            raise sqlite3.OperationalError("disk I/O error")
        _insert(12)(conn)

    def leaves(conn: Connection) -> int:
        before_commit(conn, "later", flaky_later)
        return _insert(1)(conn)

    async def scenario() -> None:
        batches = Batches(db)
        first = batches.run(leaves)
        with pytest.raises(BatchLost):
            batches.run(_insert(2), isolated=True)
        with pytest.raises(BatchLost):
            await _soon(first[1])
        assert _committed(db) == []
        # Run again, as run_transaction runs them: isolated, in the next batch.
        again = [batches.run(leaves, isolated=True), batches.run(_insert(2), isolated=True)]
        await _soon(asyncio.gather(*(done for _, done in again)))
        assert _committed(db) == [1, 2, 12]
        assert flushes == [12, 12]

    asyncio.run(scenario())


def test_a_request_run_again_into_a_batch_lost_as_it_joins_runs_once_more(
    db: Database, tmp_path: Path
) -> None:
    """The first request is undone by the second's failure and runs again, isolated, in the
    batch the third began meanwhile. There the third's work left for the commit fails: that
    batch is lost as the first joins it, and both run again."""
    runs: list[int] = []
    flushes: list[int] = []

    def first_work(conn: Connection) -> int:
        runs.append(1)
        return _insert(1)(conn)

    def flaky_later(conn: Connection) -> None:
        flushes.append(30)
        if len(flushes) == 1:
            raise sqlite3.OperationalError("disk I/O error")
        _insert(30)(conn)

    def third_work(conn: Connection) -> int:
        before_commit(conn, "flaky", flaky_later)
        return _insert(3)(conn)

    async def scenario() -> None:
        runtime = Runtime(db, exports_dir=tmp_path)
        first = asyncio.create_task(run_transaction(runtime, first_work, write=True, quick=True))
        second = asyncio.create_task(run_transaction(runtime, _fails, write=True, quick=True))
        third = asyncio.create_task(run_transaction(runtime, third_work, write=True, quick=True))
        assert await _soon(first) == 1
        with pytest.raises(RuntimeError):
            await _soon(second)
        assert await _soon(third) == 3
        # Undone; then lost as it joined, before its work ran; then committed.
        assert runs == [1, 1]
        assert flushes == [30, 30]
        assert _committed(db) == [1, 3, 30]

    asyncio.run(scenario())
