"""On SQLite an order write runs on the event loop only while the write lock is free; while
another connection holds it, the write waits its turn and then succeeds."""

import sqlite3
import threading

import pytest

from support.inprocess import AppClient
from tally.clock import iso, utcnow

pytestmark = pytest.mark.parametrize("migrated_db_url", ["sqlite"], indirect=True)


def test_a_create_waits_for_a_writer_outside_the_process(client: AppClient) -> None:
    path = client.db_url.removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    released: list[str] = []

    def release() -> None:
        released.append(str(iso(utcnow())))
        other.execute("ROLLBACK")

    timer = threading.Timer(0.3, release)
    timer.start()
    try:
        response = client.post("/v1/orders", json={"source_id": "waited", "amount": 100})
    finally:
        timer.join()
        other.close()
    assert response.status_code == 200, response.text
    # The order was written after the other writer let go, not beside it.
    assert released and response.json()["created_at"] >= released[0]
    assert client.get("/v1/orders/waited").json()["amount"] == 100
