"""SQLite's "database is locked" never reaches a client as a 500: a write waits for another
process's write lock up to TALLY_SQLITE_BUSY_TIMEOUT_MS, then is refused with the spec's
error (multiple_requests for a request on an order, 503 database_busy otherwise)."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.server import LiveServer, start_live_server


@pytest.fixture
def impatient(tmp_path: Path) -> Iterator[LiveServer]:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    live = start_live_server(url, tmp_path / "server", env={"TALLY_SQLITE_BUSY_TIMEOUT_MS": "300"})
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.slow
def test_a_write_blocked_past_the_busy_timeout_is_refused_cleanly(impatient: LiveServer) -> None:
    path = impatient.db_url.removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None)
    with impatient.client() as http:
        other.execute("BEGIN IMMEDIATE")
        try:
            customer = http.post("/v1/customers", json={"source_id": "waiting"})
            order = http.post("/v1/orders", json={"source_id": "blocked", "amount": 100})
            read = http.get("/v1/customers")
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert customer.status_code == 503, customer.text
        assert customer.json()["key"] == "database_busy"
        assert customer.headers["retry-after"] == "1"
        assert order.status_code == 400, order.text
        assert (order.json()["key"], order.json()["resource_id"]) == (
            "multiple_requests",
            "blocked",
        )
        assert read.status_code == 200  # readers never wait for writers
        # Nothing was written, and the same requests succeed once the lock is free.
        assert http.get("/v1/orders/blocked").status_code == 404
        assert http.post("/v1/customers", json={"source_id": "waiting"}).status_code == 200
        assert (
            http.post("/v1/orders", json={"source_id": "blocked", "amount": 1}).status_code == 200
        )
