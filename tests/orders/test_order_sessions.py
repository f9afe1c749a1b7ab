"""The order session (BEHAVIOR 13) against real server processes on both engines: while
another process holds an order, every request that uses it fails with multiple_requests
(TALLY_ORDER_SESSION_WAIT_MS=0) or waits for it (a longer wait); reads never wait, other
orders are free, and a refused request leaves nothing behind."""

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.server import LiveServer, start_live_server
from support.sessions import holding
from tally.clock import iso, utcnow

_ids = itertools.count()


def _unique(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}-{time.monotonic_ns()}"


def _voucher(http: httpx.Client, **extra: Any) -> str:
    code = _unique("SESS").upper()
    body = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}
    response = http.post(f"/v1/vouchers/{code}", json={**body, **extra})
    assert response.status_code == 200, response.text
    return code


def _order(http: httpx.Client) -> dict[str, Any]:
    response = http.post("/v1/orders", json={"source_id": _unique("sess"), "amount": 5000})
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()
    return order


def _assert_multiple_requests(response: httpx.Response, resource_id: str, kind: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["key"] == "multiple_requests"
    assert body["message"] == "Multiple requests detected"
    assert (body["resource_id"], body["resource_type"]) == (resource_id, kind)
    assert body["request_id"] == response.headers["x-request-id"]
    assert response.headers["retry-after"] == "1"


def test_every_use_of_a_held_order_fails_at_once_and_reads_do_not(
    failfast_servers: LiveServer,
) -> None:
    live = failfast_servers
    with live.client() as http:
        code = _voucher(http)
        order = _order(http)
        order_id, source_id = order["id"], order["source_id"]
        redeem = {"redeemables": [{"object": "voucher", "id": code}]}
        with holding(live.db_url, live.project_id, f"o:{order_id}"):
            uses = [
                (
                    http.post("/v1/redemptions", json={**redeem, "order": {"id": order_id}}),
                    order_id,
                ),
                (
                    http.post(
                        "/v1/redemptions", json={**redeem, "order": {"source_id": source_id}}
                    ),
                    source_id,
                ),
                (
                    http.post(f"/v1/vouchers/{code}/redemption", json={"order": {"id": order_id}}),
                    order_id,
                ),
                (
                    http.post("/v1/validations", json={**redeem, "order": {"id": order_id}}),
                    order_id,
                ),
                (
                    http.post(
                        f"/v1/vouchers/{code}/validate", json={"order": {"source_id": source_id}}
                    ),
                    source_id,
                ),
                (http.put(f"/v1/orders/{order_id}", json={"status": "CANCELED"}), order_id),
                (http.put(f"/v1/orders/{source_id}", json={"status": "CANCELED"}), source_id),
                (http.post("/v1/orders", json={"source_id": source_id, "amount": 1}), source_id),
            ]
            for response, named in uses:
                _assert_multiple_requests(response, named, "order")
            assert http.get(f"/v1/orders/{order_id}").status_code == 200
            assert http.get("/v1/orders", params={"limit": 1}).status_code == 200
        # Refused before it began: no order change, no use taken, no failure recorded.
        assert http.get(f"/v1/orders/{order_id}").json() == order
        assert http.get(f"/v1/vouchers/{code}").json()["redemption"]["redeemed_quantity"] == 0
        assert (
            http.get(
                "/v1/redemptions", params={"filters[voucher_code][conditions][$is]": code}
            ).json()["total"]
            == 0
        )
        # Free again the moment its holder is gone.
        after = http.post("/v1/redemptions", json={**redeem, "order": {"id": order_id}})
        assert after.status_code == 200, after.text


def test_other_orders_stay_free_while_one_is_held(failfast_servers: LiveServer) -> None:
    live = failfast_servers
    with live.client() as http:
        code = _voucher(http, redemption={"quantity": 3})
        held, other = _order(http), _order(http)
        redeem = {"redeemables": [{"object": "voucher", "id": code}]}
        with holding(live.db_url, live.project_id, f"o:{held['id']}"):
            for order in (
                {"id": other["id"]},
                {"amount": 700},
                {"source_id": _unique("new"), "amount": 900},
            ):
                response = http.post("/v1/redemptions", json={**redeem, "order": order})
                assert response.status_code == 200, response.text


def test_a_new_source_id_is_held_by_the_request_creating_it(failfast_servers: LiveServer) -> None:
    live = failfast_servers
    source_id = _unique("fresh")
    with live.client() as http:
        with holding(live.db_url, live.project_id, f"s:{source_id}"):
            response = http.post("/v1/orders", json={"source_id": source_id, "amount": 10})
            _assert_multiple_requests(response, source_id, "order")
            # Nor may another order take that source_id meanwhile.
            other = _order(http)
            renamed = http.put(f"/v1/orders/{other['id']}", json={"source_id": source_id})
            _assert_multiple_requests(renamed, source_id, "order")
            assert http.get(f"/v1/orders/{source_id}").status_code == 404
        created = http.post("/v1/orders", json={"source_id": source_id, "amount": 10})
        assert created.status_code == 200, created.text
        # Once it exists, its id is what is held, whichever name a request uses.
        with holding(live.db_url, live.project_id, f"o:{created.json()['id']}"):
            again = http.post("/v1/orders", json={"source_id": source_id, "amount": 20})
            _assert_multiple_requests(again, source_id, "order")


def test_a_rollback_holds_its_redemption_and_its_order(failfast_servers: LiveServer) -> None:
    live = failfast_servers
    with live.client() as http:
        code = _voucher(http)
        order = _order(http)
        redeemed = http.post(
            f"/v1/vouchers/{code}/redemption", json={"order": {"id": order["id"]}}
        ).json()
        redemption_id = redeemed["id"]
        for name in (f"o:{order['id']}", f"r:{redemption_id}"):
            with holding(live.db_url, live.project_id, name):
                response = http.post(f"/v1/redemptions/{redemption_id}/rollback")
                _assert_multiple_requests(response, redemption_id, "redemption")
        assert http.get(f"/v1/vouchers/{code}").json()["redemption"]["redeemed_quantity"] == 1
        done = http.post(f"/v1/redemptions/{redemption_id}/rollback")
        assert done.status_code == 200, done.text
        assert http.get(f"/v1/vouchers/{code}").json()["redemption"]["redeemed_quantity"] == 0


@pytest.fixture
def patient_server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    live = start_live_server(
        db_url, tmp_path / "server", env={"TALLY_ORDER_SESSION_WAIT_MS": "10000"}
    )
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.slow
def test_a_request_waits_for_a_held_order_then_runs(patient_server: LiveServer) -> None:
    live = patient_server
    with live.client() as http:
        code = _voucher(http)
        order = _order(http)
        released: list[str] = []
        with holding(live.db_url, live.project_id, f"o:{order['id']}"):
            timer = threading.Timer(0.4, lambda: released.append(iso(utcnow())))

            def redeem() -> httpx.Response:
                return http.post(
                    f"/v1/vouchers/{code}/redemption", json={"order": {"id": order["id"]}}
                )

            result: list[httpx.Response] = []
            caller = threading.Thread(target=lambda: result.append(redeem()))
            caller.start()
            timer.start()
            timer.join()
        caller.join(timeout=30)
        (response,) = result
        assert response.status_code == 200, response.text
        # It ran after the holder let go, not beside it.
        assert response.json()["date"] >= released[0]
