"""SQLite connections kept for quick work on the event loop keep a larger page cache, the
writer keeps its statement journals in memory, and the
reader reads the file through a memory map; the pool's connections (lists, exports) do
neither."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from tally.db.engine import Database
from tally.db.migrate import upgrade


@pytest.mark.parametrize("mmap_mb", [0, 64])
def test_only_kept_connections_map_the_file(tmp_path: Path, mmap_mb: int) -> None:
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    upgrade(url)
    db = Database(url, mmap_bytes=mmap_mb * 1024 * 1024)
    try:
        for write in (False, True):
            with db.quick_transaction(write=write) as conn:
                driver = conn.connection.driver_connection
                assert driver is not None
                mapped = 0 if write else mmap_mb * 1024 * 1024  # the reader's only
                assert driver.execute("PRAGMA mmap_size").fetchone()[0] == mapped
                assert driver.execute("PRAGMA cache_size").fetchone()[0] == -16_384
                # Reads work through the map.
                assert driver.execute("SELECT count(*) FROM orders").fetchone()[0] == 0
        with db.transaction(write=False) as conn:
            assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() == 0
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -2000
    finally:
        db.dispose()


def _temp_files() -> list[str]:
    """SQLite's temporary files this process holds open (created, then deleted at once)."""
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if "etilqs_" in target:
            found.append(target)
    return found


def _rewrite(conn: sa.Connection) -> list[str]:
    """In a savepoint, change every page the transaction changed before it (far more than
    SQLite's 64 KiB statement journal keeps in memory by default), and report the temporary
    files open meanwhile."""
    conn.exec_driver_sql("SAVEPOINT inner")
    conn.exec_driver_sql("UPDATE scratch SET body = upper(body)")
    files = _temp_files()
    conn.exec_driver_sql("RELEASE inner")
    return files


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_the_writers_savepoints_journal_in_memory(tmp_path: Path) -> None:
    """The kept writer runs every request of a batch in a savepoint: its journal of the pages
    the batch had already changed stays in memory, where the pool's spills to a file."""
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    upgrade(url)
    db = Database(url)
    fill = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
        "INSERT INTO scratch (body) SELECT printf('%.500c', 'x') FROM n"
    )
    try:
        with db.transaction(write=True) as conn:
            conn.exec_driver_sql("CREATE TABLE scratch (id INTEGER PRIMARY KEY, body TEXT)")
        kept = db.begin_batch()
        try:
            db.in_batch(kept, lambda conn: conn.exec_driver_sql(fill), isolated=True)
            in_batch = db.in_batch(kept, _rewrite, isolated=True)
        finally:
            db.end_batch(kept, commit=False)
        assert in_batch == []
        with db.transaction(write=True) as conn:
            conn.exec_driver_sql(fill)
            in_pool = _rewrite(conn)
        assert in_pool != []  # what the writer's setting avoids
    finally:
        db.dispose()
