"""WAL checkpoints of serving processes: off the commit path, on a thread that keeps the
WAL from growing without end, and a WAL emptied at shutdown."""

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import sqlalchemy as sa

from tally.db.checkpoints import Checkpointer
from tally.db.engine import Database, WouldWait

PAGE = 4096


def _make(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    conn.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "wal.db"
    _make(path)
    return path


@pytest.fixture
def serving(path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{path}", pool_size=1, background_checkpoints=True)
    try:
        yield db
    finally:
        db.dispose()


def _insert(db: Database, n: int, *, start: int = 0) -> None:
    for i in range(start, start + n):
        with db.transaction(write=True) as conn:
            conn.execute(
                sa.text("INSERT INTO t (id, body) VALUES (:i, :b)"), {"i": i, "b": "x" * 500}
            )


def _wal_size(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_commits_leave_checkpoints_to_the_thread(serving: Database) -> None:
    with serving.transaction(write=True) as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    with serving.transaction(write=False) as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    plain = Database(serving.url, pool_size=1)
    try:
        with plain.transaction(write=True) as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    finally:
        plain.dispose()


def test_the_thread_copies_what_was_committed(serving: Database) -> None:
    _insert(serving, 50)
    checkpointer = serving.checkpointer
    assert checkpointer is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _busy, frames, copied = checkpointer.last
        if frames >= 50 and copied == frames:
            break
        time.sleep(0.05)
    assert checkpointer.last[1] >= 50 and checkpointer.last[2] == checkpointer.last[1]


def test_steady_writes_do_not_grow_the_wal_without_end(path: Path) -> None:
    db = Database(f"sqlite:///{path}", pool_size=1, background_checkpoints=True)
    try:
        assert db.checkpointer is not None
        db.checkpointer.stop()
        # Nothing checkpoints now: every transaction appends at least one page to the WAL.
        _insert(db, 500)
        unchecked = _wal_size(path)
        assert unchecked >= 500 * PAGE
        gated: list[str] = []

        def gate() -> AbstractContextManager[object]:
            gated.append(threading.current_thread().name)
            return db._gate()

        # The same thread with a small bound, checking often, under runs of steady writes.
        small = Checkpointer(str(path), gate, interval=0.005, max_frames=40)
        small.start()
        try:
            for run in range(20):
                _insert(db, 100, start=500 + 100 * run)
                # A loaded machine may not run the thread during a run of writes at all;
                # two more rounds mean one began after the run ended (the test must not
                # depend on how the threads were scheduled).
                _await_rounds(small, small.rounds + 2)
            # Unchecked, 2000 more transactions would add 2000 pages or more; the WAL was
            # started over instead (the file keeps its largest extent).
            assert _wal_size(path) < unchecked + 500 * PAGE
            assert small.last[1] < 500
            # Each run left more than 40 frames: the thread held the write gate for them.
            assert "tally-checkpoints" in gated
        finally:
            small.stop()
    finally:
        db.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (2500,)


def test_the_gated_round_comes_after_catching_up(path: Path) -> None:
    """Writers wait while the checkpointer holds the gate: before it takes the gate, passive
    rounds copy what the first one left, so the gated round has little left to copy."""
    db = Database(f"sqlite:///{path}", pool_size=1, background_checkpoints=True)
    try:
        assert db.checkpointer is not None
        db.checkpointer.stop()
        _insert(db, 200)
        entered: list[int] = []

        def gate() -> AbstractContextManager[object]:
            entered.append(checkpointer.rounds)
            return db._gate()

        checkpointer = Checkpointer(str(path), gate, interval=0.005, max_frames=40)
        checkpointer.start()
        try:
            _await_rounds(checkpointer, 4)
        finally:
            checkpointer.stop()
        # The first round copied all 200 frames, a second found nothing new (no writer ran):
        # the gate was taken after those two.
        assert entered[:1] == [2]
    finally:
        db.dispose()


def test_rounds_come_often_under_writes_and_seldom_without(path: Path) -> None:
    db = Database(f"sqlite:///{path}", pool_size=1, background_checkpoints=True)
    try:
        assert db.checkpointer is not None
        db.checkpointer.stop()
        checkpointer = Checkpointer(
            str(path), db._gate, interval=0.01, idle_interval=0.2, max_frames=10_000
        )
        checkpointer.start()
        try:
            _insert(db, 5)
            _await_rounds(checkpointer, 1)
            start = checkpointer.rounds
            time.sleep(0.8)
            # Idle: 10, 20, 40, 80, 160 ms, then every 200 ms, about 8 rounds; every 10 ms
            # it would have been some 80 (fewer on a loaded machine, never as few as 20).
            assert checkpointer.rounds - start < 20
            idle = checkpointer.last
            _insert(db, 5, start=5)
            deadline = time.monotonic() + 10
            while checkpointer.last == idle or checkpointer.last[2] < checkpointer.last[1]:
                assert time.monotonic() < deadline, "the new writes were not copied"
                time.sleep(0.01)
        finally:
            checkpointer.stop()
    finally:
        db.dispose()


def _await_rounds(checkpointer: Checkpointer, rounds: int) -> None:
    deadline = time.monotonic() + 10
    while checkpointer.rounds < rounds:
        assert time.monotonic() < deadline, "the checkpoint thread did not run"
        time.sleep(0.002)


def test_shutdown_empties_the_wal(path: Path) -> None:
    db = Database(f"sqlite:///{path}", pool_size=1, background_checkpoints=True)
    _insert(db, 20)
    db.dispose()
    assert _wal_size(path) == 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (20,)


def test_a_writer_that_will_not_wait_is_told_and_writes_nothing(
    serving: Database, path: Path
) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(WouldWait), serving.quick_transaction(write=True) as conn:
            conn.execute(sa.text("INSERT INTO t (id, body) VALUES (1, 'x')"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    with serving.quick_transaction(write=True) as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 0


def test_a_writer_of_this_process_holding_the_lock_makes_others_wait(serving: Database) -> None:
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with serving.transaction(write=True):
            entered.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert entered.wait(10)
        with pytest.raises(WouldWait), serving.quick_transaction(write=True):
            pass
    finally:
        release.set()
        holder.join()
