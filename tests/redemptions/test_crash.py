"""A server process killed (SIGKILL) in the middle of a redemption: the order's session is
free afterwards and nothing of the redemption was written, on both engines."""

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from support.server import LiveServer, start_live_server
from support.sessions import blocking_redemptions_of, is_held


def _until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} after {timeout:.0f}s")
        time.sleep(0.02)


@pytest.mark.slow
def test_a_killed_server_leaves_the_order_free_and_nothing_half_written(
    db_url: str, tmp_path: Path
) -> None:
    first = start_live_server(db_url, tmp_path / "first", workers=2)
    headers = first.headers
    with first.client() as http:
        voucher = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 300}}
        assert http.post("/v1/vouchers/CRASH", json=voucher).status_code == 200
        order = http.post("/v1/orders", json={"source_id": "crash", "amount": 2000}).json()
    session = f"o:{order['id']}"
    body = {"redeemables": [{"object": "voucher", "id": "CRASH"}], "order": {"id": order["id"]}}
    outcome: list[object] = []

    def redeem() -> None:
        try:
            with first.client() as http:
                outcome.append(http.post("/v1/redemptions", json=body))
        except httpx.TransportError as exc:
            outcome.append(exc)

    try:
        with blocking_redemptions_of(db_url, "CRASH"):
            caller = threading.Thread(target=redeem)
            caller.start()
            _until(lambda: is_held(db_url, first.project_id, session), "holding the session")
            first.kill()
            caller.join(timeout=30)
            # The client never got an answer: the server died mid-request.
            assert len(outcome) == 1 and isinstance(outcome[0], httpx.TransportError), outcome
    finally:
        first.stop()
    # PostgreSQL ends the dead server's transaction once its lock wait ends; SQLite's file
    # lock went with the process.
    _until(lambda: not is_held(db_url, first.project_id, session), "free again")

    second: LiveServer = start_live_server(db_url, tmp_path / "second")
    try:
        with httpx.Client(base_url=second.base_url, headers=headers, timeout=30) as http:
            assert http.get("/v1/orders/crash").json() == order
            voucher_now = http.get("/v1/vouchers/CRASH").json()
            assert voucher_now["redemption"]["redeemed_quantity"] == 0
            assert http.get("/v1/redemptions").json()["total"] == 0
            redeemed = http.post("/v1/redemptions", json=body)
            assert redeemed.status_code == 200, redeemed.text
            stored = http.get("/v1/orders/crash").json()
            assert (stored["discount_amount"], stored["total_amount"]) == (300, 1700)
            assert http.get("/v1/vouchers/CRASH").json()["redemption"]["redeemed_quantity"] == 1
    finally:
        second.stop()
