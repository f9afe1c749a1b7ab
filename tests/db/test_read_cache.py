"""The kept reader's answers (tally.db.read_cache): given again only while SQLite says the
database is unchanged, whoever changed it, and only inside the kept reader's transactions."""

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tally.db import read_cache
from tally.db.engine import Database
from tally.db.prepared import Prepared

_items = sa.table("items", sa.column("id"), sa.column("project_id"), sa.column("name"))
_by_project = Prepared(
    sa.select(_items.c.id, _items.c.name)
    .where(_items.c.project_id == sa.bindparam("project_id"))
    .order_by(_items.c.id)
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "cache.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, project_id TEXT, name TEXT)")
    conn.execute("INSERT INTO items VALUES (1, 'p1', 'one'), (2, 'p2', 'two')")
    conn.close()
    return path


@pytest.fixture
def db(path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{path}", pool_size=1)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def writer(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def _names(db: Database, project_id: str = "p1") -> list[str]:
    rows = db.quick_read(lambda conn: _by_project.all_kept(conn, {"project_id": project_id}))
    return [row["name"] for row in rows]


def _cache(db: Database) -> read_cache.ReadCache:
    cache = db._held_connection(db.engine).cache
    assert cache is not None
    return cache


def test_sqlite_keeps_data_version_for_a_whole_read_transaction(
    path: Path, writer: sqlite3.Connection
) -> None:
    """What the cache stands on: read inside a transaction, data_version is that of its
    snapshot, even when another connection commits meanwhile; the next one sees the
    change. Own writes leave it as it was (total_changes counts those)."""
    reader = sqlite3.connect(path, isolation_level=None)
    try:

        def version() -> int:
            return int(reader.execute("PRAGMA data_version").fetchone()[0])

        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM items").fetchone()
        before = version()
        writer.execute("INSERT INTO items VALUES (3, 'p1', 'three')")
        assert version() == before
        assert reader.execute("SELECT count(*) FROM items").fetchone() == (2,)
        reader.execute("COMMIT")
        reader.execute("BEGIN")
        after = version()
        reader.execute("COMMIT")
        assert after != before

        changes = reader.total_changes
        reader.execute("INSERT INTO items VALUES (4, 'p1', 'four')")
        reader.execute("BEGIN")
        assert version() == after
        reader.execute("COMMIT")
        assert reader.total_changes == changes + 1
    finally:
        reader.close()


def test_an_unchanged_database_answers_from_the_cache(db: Database) -> None:
    assert _names(db) == ["one"]
    cache = _cache(db)
    hits = cache.hits
    assert _names(db) == ["one"]
    assert cache.hits == hits + 1
    # Other parameters (another project) are another answer.
    assert _names(db, "p2") == ["two"]
    assert cache.hits == hits + 1


def test_a_commit_of_another_connection_is_seen_by_the_next_read(
    db: Database, writer: sqlite3.Connection
) -> None:
    assert _names(db) == ["one"]
    writer.execute("UPDATE items SET name = 'renamed' WHERE id = 1")
    assert _names(db) == ["renamed"]
    writer.execute("INSERT INTO items VALUES (3, 'p1', 'three')")
    assert _names(db) == ["renamed", "three"]


def test_a_commit_of_this_process_writers_is_seen_by_the_next_read(db: Database) -> None:
    assert _names(db) == ["one"]
    with db.quick_transaction(write=True) as conn:
        conn.execute(sa.text("UPDATE items SET name = 'batched' WHERE id = 1"))
    assert _names(db) == ["batched"]
    with db.transaction(write=True) as conn:
        conn.execute(sa.text("UPDATE items SET name = 'pooled' WHERE id = 1"))
    assert _names(db) == ["pooled"]


def test_a_commit_of_another_process_is_seen_by_the_next_read(db: Database, path: Path) -> None:
    assert _names(db) == ["one"]
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "c.execute(\"UPDATE items SET name = 'elsewhere' WHERE id = 1\"); c.commit()",
            str(path),
        ],
        check=True,
    )
    assert _names(db) == ["elsewhere"]


def test_the_reader_refuses_every_write(db: Database) -> None:
    """The cache takes every change to come from another connection: the reader makes none."""
    assert _names(db) == ["one"]
    driver = db._held_connection(db.engine).driver
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        driver.execute("UPDATE items SET name = 'own' WHERE id = 1")

    def write(conn: sa.Connection) -> None:
        _by_project.all_kept(conn, {"project_id": "p1"})
        conn.execute(sa.text("UPDATE items SET name = 'own' WHERE id = 1"))

    with pytest.raises(sa.exc.OperationalError, match="readonly"):
        db.quick_read(write)
    assert _names(db) == ["one"]


def test_a_write_inside_a_read_neither_uses_nor_fills_the_cache(db: Database) -> None:
    """A lookup on another connection while a read is current (a write begun inside it)
    sees its own transaction, and leaves the reader's cache alone."""
    assert _names(db) == ["one"]
    cache = _cache(db)

    def read_then_write(conn: sa.Connection) -> list[str]:
        kept = _by_project.all_kept(conn, {"project_id": "p1"})
        with db.quick_transaction(write=True) as writer:
            writer.execute(sa.text("UPDATE items SET name = 'written' WHERE id = 1"))
            hits, misses, answers = cache.hits, cache.misses, cache.answers()
            seen = _by_project.all_kept(writer, {"project_id": "p1"})
            assert (cache.hits, cache.misses, cache.answers()) == (hits, misses, answers)
        return [row["name"] for row in [*kept, *seen]]

    assert db.quick_read(read_then_write) == ["one", "written"]
    assert _names(db) == ["written"]


def test_within_one_transaction_the_answer_is_its_snapshot(
    db: Database, writer: sqlite3.Connection
) -> None:
    assert _names(db) == ["one"]

    def read_twice(conn: sa.Connection) -> tuple[list[str], list[str], list[str]]:
        first = [row["name"] for row in _by_project.all_kept(conn, {"project_id": "p1"})]
        writer.execute("UPDATE items SET name = 'later' WHERE id = 1")
        again = [row["name"] for row in _by_project.all_kept(conn, {"project_id": "p1"})]
        fresh = [row["name"] for row in _by_project.all(conn, {"project_id": "p1"})]
        return first, again, fresh

    assert db.quick_read(read_twice) == (["one"], ["one"], ["one"])
    assert _names(db) == ["later"]


def test_a_commit_between_begin_and_the_first_lookup_is_in_the_answer(
    db: Database, writer: sqlite3.Connection
) -> None:
    """BEGIN is deferred: the snapshot starts at the transaction's first read, which may be
    the version check itself. The answer kept must be of that snapshot, not an older one."""
    assert _names(db) == ["one"]

    def late(conn: sa.Connection) -> list[str]:
        writer.execute("UPDATE items SET name = 'before-first-read' WHERE id = 1")
        return [row["name"] for row in _by_project.all_kept(conn, {"project_id": "p1"})]

    assert db.quick_read(late) == ["before-first-read"]
    assert _names(db) == ["before-first-read"]


def test_a_transaction_ended_early_is_not_answered_from_the_cache(
    db: Database, writer: sqlite3.Connection
) -> None:
    driver = db._held_connection(db.engine).driver

    def ended_early(conn: sa.Connection) -> tuple[list[str], list[str]]:
        first = [row["name"] for row in _by_project.all_kept(conn, {"project_id": "p1"})]
        driver.commit()  # as SQLite does on its own after an I/O error
        writer.execute("UPDATE items SET name = 'after' WHERE id = 1")
        second = [row["name"] for row in _by_project.all_kept(conn, {"project_id": "p1"})]
        return first, second

    assert db.quick_read(ended_early) == (["one"], ["after"])
    assert _names(db) == ["after"]


def test_no_cache_outside_the_kept_readers_transactions(db: Database) -> None:
    assert _names(db) == ["one"]
    assert read_cache.current() is None
    cache = _cache(db)
    hits, misses = cache.hits, cache.misses
    with db.transaction(write=False) as conn:
        assert [r["name"] for r in _by_project.all_kept(conn, {"project_id": "p1"})] == ["one"]
    with db.quick_transaction(write=True) as conn:
        conn.execute(sa.text("UPDATE items SET name = 'written' WHERE id = 1"))
        # A write transaction sees its own write, never a reader's answer.
        assert [r["name"] for r in _by_project.all_kept(conn, {"project_id": "p1"})] == ["written"]
    assert (cache.hits, cache.misses) == (hits, misses)


def test_a_failed_read_leaves_no_cache_current(db: Database) -> None:
    def fail(conn: sa.Connection) -> None:
        _by_project.all_kept(conn, {"project_id": "p1"})
        raise RuntimeError("the service refused")

    with pytest.raises(RuntimeError):
        db.quick_read(fail)
    assert read_cache.current() is None
    assert _names(db) == ["one"]


def test_the_cache_holds_a_bounded_number_of_answers(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read_cache, "MAX_ANSWERS", 3)
    for project in ("a", "b", "c", "d", "e"):
        _names(db, project)
    assert len(_cache(db)._answers) <= 3
    assert _names(db) == ["one"]


def test_the_cache_holds_a_bounded_number_of_bytes(
    db: Database, writer: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Estimated from above: 5,000 bytes of text, and the objects around every value.
    writer.execute("INSERT INTO items VALUES (3, 'big', ?)", ("x" * 5000,))
    monkeypatch.setattr(read_cache, "MAX_BYTES", 5000)
    cache = _cache(db)
    # Larger than the whole cache: read each time, never kept.
    misses = cache.misses
    assert _names(db, "big") == ["x" * 5000]
    assert _names(db, "big") == ["x" * 5000]
    assert cache.misses == misses + 2 and not cache.answers()
    # Estimated at 5,503 bytes (5,000 of text, 100 a value and a parameter, 200 an answer);
    # a one-row answer of a few letters, at about 506, then no longer fits beside it.
    monkeypatch.setattr(read_cache, "MAX_BYTES", 5600)
    _names(db, "big")
    assert len(cache.answers()) == 1
    # The next answer would not fit beside it: the cache starts over.
    _names(db, "p1")
    _names(db, "p2")
    assert [params for (_statement, params), _rows in cache.answers()] == [
        (("project_id", "p1"),),
        (("project_id", "p2"),),
    ]


def test_a_reader_opened_again_starts_with_an_empty_cache(db: Database) -> None:
    assert _names(db) == ["one"]
    first = _cache(db)
    db._held_connection(db.engine).conn.invalidate()
    assert _names(db) == ["one"]
    second = _cache(db)
    assert second is not first and second.misses == 1
    assert db.read_caches() == [second]


def test_only_sqlites_kept_reader_keeps_answers(migrated_db_url: str) -> None:
    database = Database(migrated_db_url, pool_size=1)
    try:
        reader = database._held_connection(database.engine).cache
        writer = database._held_connection(database._writer_nowait).cache
        assert (reader is not None, writer is not None) == (database.is_sqlite, False)
    finally:
        database.dispose()
