"""SQLite connections kept for quick work on the event loop keep a larger page cache, and the
reader reads the file through a memory map; the pool's connections (lists, exports) do
neither."""

from __future__ import annotations

from pathlib import Path

import pytest

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
