"""SIGTERM to `tally serve --workers 2` while one of its processes writes an export: the
server ends cleanly within its grace period, the export is handed back to the queue (its
half-written file removed, the try not counted), and the next server writes it whole, each
order once."""

import csv
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from support.polling import wait_until_finished
from support.server import LiveServer, start_live_server

SQLITE_ONLY = pytest.mark.parametrize("migrated_db_url", ["sqlite"], indirect=True)

# Enough rows, each with a kilobyte of metadata, that the export takes seconds: the stop
# lands while the file is being written.
ROWS = 200_000


def _many_orders(database: Path, template_id: str, count: int) -> None:
    """``count`` copies of one order row, written straight into the table (the API would
    take minutes for as many)."""
    conn = sqlite3.connect(database, timeout=30)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(orders)")]
        made = {
            "id": "'ord_bulk' || printf('%020d', n)",
            "source_id": "'bulk-' || n",
        }
        picked = ", ".join(made.get(name, f'"{name}"') for name in columns)
        listed = ", ".join(f'"{name}"' for name in columns)
        conn.execute(
            f"WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers"
            f" WHERE n < ?) INSERT INTO orders ({listed}) SELECT {picked} FROM numbers,"
            f" (SELECT * FROM orders WHERE id = ?)",
            (count, template_id),
        )
        conn.commit()
    finally:
        conn.close()


def _part_files(exports: Path) -> list[Path]:
    return sorted(exports.rglob("*.part"))


def _job(database: Path, export_id: str) -> tuple[str, int]:
    conn = sqlite3.connect(database, timeout=30)
    try:
        row = conn.execute(
            "SELECT status, attempts FROM jobs WHERE subject_id = ?", (export_id,)
        ).fetchone()
    finally:
        conn.close()
    assert row is not None
    return str(row[0]), int(row[1])


def _until(check: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@SQLITE_ONLY
def test_sigterm_to_a_two_process_server_mid_export_hands_the_export_back(
    migrated_db_url: str, tmp_path: Path
) -> None:
    database = Path(migrated_db_url.removeprefix("sqlite:///"))
    exports = tmp_path / "exports"
    env = {"TALLY_EXPORTS_DIR": str(exports)}
    server: LiveServer | None = start_live_server(
        migrated_db_url, tmp_path / "first", workers=2, env=env
    )
    assert server is not None
    try:
        with server.client() as http:
            made = http.post(
                "/v1/orders",
                json={"source_id": "template", "amount": 1234, "metadata": {"note": "x" * 1000}},
            )
            assert made.status_code == 200, made.text
            _many_orders(database, made.json()["id"], ROWS)
            asked = http.post(
                "/v1/orders/export",
                json={"parameters": {"fields": ["id", "source_id", "amount", "metadata"]}},
            )
            assert asked.status_code == 200, asked.text
            export_id = asked.json()["id"]
        _until(lambda: any(p.stat().st_size > 0 for p in _part_files(exports)), "a part file")
        server.process.send_signal(signal.SIGTERM)
        try:
            code = server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not end within 30 s of SIGTERM\n{server.log()}")
        assert code == 0, server.log()
        # Handed back, not finished and not failed: queued again, the stopped try not
        # counted, and its half-written file gone.
        assert _job(database, export_id) == ("queued", 0), server.log()
        assert _part_files(exports) == []
        headers, server = server.headers, None

        again = start_live_server(migrated_db_url, tmp_path / "second", env=env)
        try:
            # The export's project, not the one this server's start made.
            with httpx.Client(base_url=again.base_url, headers=headers, timeout=60) as http:
                done = wait_until_finished(
                    http, f"/v1/exports/{export_id}", ("DONE", "FAILED"), timeout=120
                )
                assert done["status"] == "DONE", done
                with httpx.stream("GET", done["result"]["url"], timeout=60) as downloaded:
                    assert downloaded.status_code == 200
                    size = sum(len(chunk) for chunk in downloaded.iter_bytes())
        finally:
            again.stop()
    finally:
        if server is not None:
            server.stop()
    (written,) = list(exports.rglob("*.csv"))
    assert size == written.stat().st_size
    with written.open(encoding="utf-8", newline="") as text:
        rows = csv.reader(text)
        assert next(rows)[:2] == ["id", "source_id"]
        source_ids = [row[1] for row in rows]
    assert len(source_ids) == ROWS + 1 == len(set(source_ids))
    assert _job(database, export_id)[0] == "done"
    assert _part_files(exports) == []
