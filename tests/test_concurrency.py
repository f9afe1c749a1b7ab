"""Concurrent writers against a real server with two worker processes, on both engines:
no lost upserts, no duplicate rows, customer summaries exact."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from support.server import LiveServer, start_live_server


@pytest.fixture
def workers(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    live = start_live_server(db_url, tmp_path / "server", workers=2)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def patient_workers(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """Like ``workers``, with requests waiting up to 10 s for an order another request is
    using (the default, 500 ms, is less than a queue of requests on one order may take on
    a loaded machine: they would be refused with multiple_requests)."""
    live = start_live_server(
        db_url, tmp_path / "server", workers=2, env={"TALLY_ORDER_SESSION_WAIT_MS": "10000"}
    )
    try:
        yield live
    finally:
        live.stop()


def _post_all(live: LiveServer, bodies: list[dict[str, object]]) -> list[httpx.Response]:
    def post(body: dict[str, object]) -> httpx.Response:
        with live.client() as http:
            return http.post("/v1/orders", json=body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(post, bodies))


@pytest.mark.slow
def test_racing_upserts_of_one_source_id_make_one_order(patient_workers: LiveServer) -> None:
    workers = patient_workers
    bodies: list[dict[str, object]] = [
        {"source_id": "race", "customer": {"source_id": "racer"}, "metadata": {"n": i}}
        for i in range(24)
    ]
    responses = _post_all(workers, bodies)
    assert [r.status_code for r in responses] == [200] * len(bodies), [
        r.text for r in responses if r.status_code != 200
    ]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len({r.json()["customer_id"] for r in responses}) == 1
    with workers.client() as http:
        assert http.get("/v1/orders").json()["total"] == 1
        assert http.get("/v1/customers").json()["total"] == 1


@pytest.mark.slow
def test_concurrent_paid_orders_keep_the_customer_summary_exact(workers: LiveServer) -> None:
    amounts = [100 + i for i in range(40)]
    bodies: list[dict[str, object]] = [
        {"customer": {"source_id": "hot"}, "status": "PAID", "amount": a} for a in amounts
    ]
    responses = _post_all(workers, bodies)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    with workers.client() as http:
        summary = http.get("/v1/customers/hot").json()["summary"]["orders"]
        total = http.get("/v1/orders", params={"limit": 100}).json()["total"]
    assert summary["total_amount"] == sum(amounts)
    assert summary["total_count"] == len(amounts)
    assert total == len(amounts)
