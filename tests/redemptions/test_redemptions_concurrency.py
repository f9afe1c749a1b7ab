"""Redemptions and rollbacks racing against a real server with two worker processes, on
both engines: a voucher's last use goes to exactly one redemption, concurrent requests on
one order either land or are turned away whole (multiple_requests), a redemption is rolled
back once."""

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

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _voucher(live: LiveServer, code: str, **extra: Any) -> None:
    body = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}, **extra}
    with live.client() as http:
        assert http.post(f"/v1/vouchers/{code}", json=body).status_code == 200


def _redeem(codes: list[str], order: dict[str, Any]) -> Callable[[httpx.Client], httpx.Response]:
    body = {"redeemables": [{"object": "voucher", "id": c} for c in codes], "order": order}
    return lambda http: http.post("/v1/redemptions", json=body)


@pytest.mark.slow
@pytest.mark.parametrize("quantity", [1, 5])
def test_the_last_uses_go_to_exactly_as_many_redemptions(
    workers: LiveServer, quantity: int
) -> None:
    _voucher(workers, "FEW", redemption={"quantity": quantity})
    responses = _all(workers, [_redeem(["FEW"], {"amount": 1000}) for _ in range(50)])
    codes = sorted(r.status_code for r in responses)
    refused = 50 - quantity
    assert codes == [200] * quantity + [400] * refused, [
        r.text for r in responses if r.status_code != 200
    ][:3]
    assert {r.json()["key"] for r in responses if r.status_code == 400} == {"quantity_exceeded"}
    with workers.client() as http:
        assert http.get("/v1/vouchers/FEW").json()["redemption"]["redeemed_quantity"] == quantity
        assert http.get("/v1/redemptions", params={"result": "SUCCESS"}).json()["total"] == quantity
        assert http.get("/v1/redemptions", params={"result": "FAILURE"}).json()["total"] == refused
        # A refused redemption saves its order too, without discounts (BEHAVIOR 8.7).
        assert http.get("/v1/orders").json()["total"] == 50


def _race_on_one_order(live: LiveServer, prefix: str, clients: int) -> int:
    """``clients`` redemptions of different vouchers on one order at once: each lands whole
    or is turned away whole; the order holds exactly the ones that landed."""
    codes = [f"{prefix}{i}" for i in range(clients)]
    for code in codes:
        _voucher(live, code)
    with live.client() as http:
        order = http.post("/v1/orders", json={"source_id": prefix, "amount": 10000}).json()
    responses = _all(live, [_redeem([code], {"id": order["id"]}) for code in codes])
    landed = {}
    for code, response in zip(codes, responses, strict=True):
        if response.status_code == 200:
            landed[code] = response.json()["redemptions"][0]["id"]
        else:
            assert response.status_code == 400, response.text
            assert response.json()["key"] == "multiple_requests", response.text
    with live.client() as http:
        stored = http.get(f"/v1/orders/{order['id']}").json()
        for code in codes:
            voucher = http.get(f"/v1/vouchers/{code}").json()
            assert voucher["redemption"]["redeemed_quantity"] == (code in landed), code
    assert stored["discount_amount"] == 100 * len(landed)
    assert stored["total_amount"] == 10000 - 100 * len(landed)
    assert set(stored["redemptions"]) == set(landed.values())
    return len(landed)


@pytest.mark.slow
def test_concurrent_redemptions_on_one_order_land_in_turn(workers: LiveServer) -> None:
    # The default wait lets requests on one order take turns: at least some land.
    assert _race_on_one_order(workers, "TURN", 24) > 0


def test_concurrent_redemptions_on_one_order_fail_fast_whole(failfast_servers: LiveServer) -> None:
    # Without waiting most are turned away; what landed and what did not still add up.
    assert _race_on_one_order(failfast_servers, "FAST", 24) > 0


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
    # Turned away while the first held the redemption, or refused after it was done.
    keys = {r.json()["key"] for r in responses if r.status_code == 400}
    assert keys <= {"already_rolled_back", "multiple_requests"}, keys
    with workers.client() as http:
        assert http.get("/v1/vouchers/BACK").json()["redemption"]["redeemed_quantity"] == 0
        order = http.get(f"/v1/orders/{redeemed['order']['id']}").json()
    assert (order["discount_amount"], order["total_amount"], order["status"]) == (
        0,
        1000,
        "CANCELED",
    )


@pytest.mark.slow
def test_racing_redemptions_and_rollbacks_of_one_customer_are_all_counted(
    workers: LiveServer,
) -> None:
    """One customer's redemptions on different orders at once, then their rollbacks (each
    twice): summary.redemptions moves by n = n + 1 in each transaction, so no count is
    lost to another's (BEHAVIOR 14.5)."""
    _voucher(workers, "MINE", redemption={"quantity": 4})
    with workers.client() as http:
        assert http.post("/v1/customers", json={"source_id": "racer"}).status_code == 200
    body = {
        "redeemables": [{"object": "voucher", "id": "MINE"}],
        "order": {"amount": 1000},
        "customer": {"source_id": "racer"},
    }
    responses = _all(workers, [lambda http: http.post("/v1/redemptions", json=body)] * 12)
    landed = [r.json()["redemptions"][0]["id"] for r in responses if r.status_code == 200]
    assert len(landed) == 4, [r.text for r in responses if r.status_code != 200][:3]

    def roll_back(redemption_id: str) -> Callable[[httpx.Client], httpx.Response]:
        return lambda http: http.post(f"/v1/redemptions/{redemption_id}/rollback")

    rollbacks = _all(workers, [roll_back(rid) for rid in landed * 2])
    keys = [r.json()["key"] for r in rollbacks if r.status_code != 200]
    assert sum(r.status_code == 200 for r in rollbacks) == 4, keys
    # A request turned away by the order session records nothing; a refused one, its
    # failed rollback.
    assert set(keys) <= {"already_rolled_back", "multiple_requests"}, keys
    with workers.client() as http:
        summary = http.get("/v1/customers/racer").json()["summary"]["redemptions"]
    assert (summary["total_succeeded"], summary["total_failed"]) == (4, 8)
    assert summary["total_rollback_succeeded"] == 4
    assert summary["total_rollback_failed"] == keys.count("already_rolled_back")
