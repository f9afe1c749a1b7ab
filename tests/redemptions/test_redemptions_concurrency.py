"""Redemptions and rollbacks racing against a real server with two worker processes, on
both engines: a voucher's last use goes to exactly one redemption, discounts stacked on one
order by concurrent requests all land, a redemption is rolled back once."""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

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


def _all(
    live: LiveServer, calls: list[Callable[[httpx.Client], httpx.Response]]
) -> list[httpx.Response]:
    def run(call: Callable[[httpx.Client], httpx.Response]) -> httpx.Response:
        with live.client() as http:
            return call(http)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(run, calls))


def _voucher(live: LiveServer, code: str, **extra: Any) -> None:
    body = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}, **extra}
    with live.client() as http:
        assert http.post(f"/v1/vouchers/{code}", json=body).status_code == 200


def _redeem(codes: list[str], order: dict[str, Any]) -> Callable[[httpx.Client], httpx.Response]:
    body = {"redeemables": [{"object": "voucher", "id": c} for c in codes], "order": order}
    return lambda http: http.post("/v1/redemptions", json=body)


@pytest.mark.slow
def test_the_last_uses_go_to_exactly_as_many_redemptions(workers: LiveServer) -> None:
    _voucher(workers, "FEW", redemption={"quantity": 5})
    responses = _all(workers, [_redeem(["FEW"], {"amount": 1000}) for _ in range(24)])
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 5 + [400] * 19, [r.text for r in responses if r.status_code != 200][:3]
    assert {r.json()["key"] for r in responses if r.status_code == 400} == {"quantity_exceeded"}
    with workers.client() as http:
        assert http.get("/v1/vouchers/FEW").json()["redemption"]["redeemed_quantity"] == 5
        assert http.get("/v1/redemptions", params={"result": "SUCCESS"}).json()["total"] == 5
        assert http.get("/v1/redemptions", params={"result": "FAILURE"}).json()["total"] == 19
        assert http.get("/v1/orders").json()["total"] == 5  # refused orders were not created


@pytest.mark.slow
def test_concurrent_redemptions_on_one_order_all_land(workers: LiveServer) -> None:
    codes = [f"STACK{i}" for i in range(24)]
    for code in codes:
        _voucher(workers, code)
    with workers.client() as http:
        order = http.post("/v1/orders", json={"source_id": "shared", "amount": 10000}).json()
    responses = _all(workers, [_redeem([code], {"id": order["id"]}) for code in codes])
    assert [r.status_code for r in responses] == [200] * len(codes), [r.text for r in responses]
    with workers.client() as http:
        stored = http.get(f"/v1/orders/{order['id']}").json()
    assert stored["discount_amount"] == 100 * len(codes)
    assert stored["total_amount"] == 10000 - 100 * len(codes)
    assert len(stored["redemptions"]) == len(codes)


@pytest.mark.slow
def test_a_redemption_is_rolled_back_once(workers: LiveServer) -> None:
    _voucher(workers, "BACK", redemption={"quantity": 3})
    _voucher(workers, "ALSO")
    with workers.client() as http:
        redeemed = _redeem(["BACK", "ALSO"], {"amount": 1000})(http).json()
    parent_id = redeemed["parent_redemption"]["id"]
    responses = _all(
        workers,
        [lambda http: http.post(f"/v1/redemptions/{parent_id}/rollbacks") for _ in range(12)],
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [400] * 11, [r.text for r in responses if r.status_code != 200][:3]
    assert {r.json()["key"] for r in responses if r.status_code == 400} == {"already_rolled_back"}
    with workers.client() as http:
        assert http.get("/v1/vouchers/BACK").json()["redemption"]["redeemed_quantity"] == 0
        order = http.get(f"/v1/orders/{redeemed['order']['id']}").json()
    assert (order["discount_amount"], order["total_amount"], order["status"]) == (
        0,
        1000,
        "CANCELED",
    )
