"""Quick transactions (SQLite, event loop): whatever fails, the connection the thread keeps
leaves with no transaction open, and nothing of the failed work stays."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tally.db.engine import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "tx.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent)")
    conn.close()
    database = Database(f"sqlite:///{path}", pool_size=1)
    try:
        yield database
    finally:
        database.dispose()


def _count(db: Database, table: str) -> int:
    with db.quick_transaction(write=False) as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_a_failed_commit_leaves_nothing_open_and_nothing_written(db: Database) -> None:
    with pytest.raises(sa.exc.IntegrityError), db.quick_transaction(write=True) as conn:
        # Checked at COMMIT, so the commit itself fails.
        conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        conn.execute(sa.text("INSERT INTO parent (id) VALUES (1)"))
        conn.execute(sa.text("INSERT INTO child (id, parent_id) VALUES (1, 99)"))
    assert (_count(db, "parent"), _count(db, "child")) == (0, 0)
    with db.quick_transaction(write=True) as conn:
        conn.execute(sa.text("INSERT INTO parent (id) VALUES (2)"))
    assert _count(db, "parent") == 1


def test_an_error_in_the_work_rolls_back_statements_of_both_paths(db: Database) -> None:
    from tally.db.prepared import Prepared

    parent = sa.table("parent", sa.column("id"))
    insert = Prepared(sa.insert(parent).values(id=sa.bindparam("id")))
    with pytest.raises(RuntimeError), db.quick_transaction(write=True) as conn:
        insert.write(conn, {"id": 1})  # on the driver's cursor
        conn.execute(sa.text("INSERT INTO parent (id) VALUES (2)"))  # through SQLAlchemy
        raise RuntimeError("the service refused")
    assert _count(db, "parent") == 0
    with db.quick_transaction(write=True) as conn:
        insert.write(conn, {"id": 3})
    assert _count(db, "parent") == 1


def test_a_quick_read_sees_one_snapshot_and_leaves_nothing_open(db: Database) -> None:
    from tally.db.prepared import Prepared

    parent = sa.table("parent", sa.column("id"))
    count = Prepared(sa.select(sa.func.count().label("n")).select_from(parent))
    with db.quick_transaction(write=True) as conn:
        conn.execute(sa.text("INSERT INTO parent (id) VALUES (1)"))
    writer = sqlite3.connect(db.url.removeprefix("sqlite:///"), isolation_level=None)

    def twice(conn: sa.Connection) -> tuple[int, int]:
        first = count.first(conn, {})
        # Another connection commits between the read's two statements.
        writer.execute("INSERT INTO parent (id) VALUES (2)")
        # Through SQLAlchemy too, which then believes it began a transaction of its own.
        second = conn.execute(sa.text("SELECT count(*) FROM parent")).scalar_one()
        assert first is not None
        return int(first["n"]), int(second)

    try:
        assert db.quick_read(twice) == (1, 1)
        kept = db._held_connection(db.engine)
        assert not kept.driver.in_transaction and not kept.conn.in_transaction()

        def fail(conn: sa.Connection) -> None:
            count.first(conn, {})
            raise RuntimeError("the service refused")

        with pytest.raises(RuntimeError):
            db.quick_read(fail)
        assert not kept.driver.in_transaction and not kept.conn.in_transaction()
        # The next read begins afresh and sees what was committed meanwhile.
        assert db.quick_read(lambda conn: count.first(conn, {})) == {"n": 2}
    finally:
        writer.close()
