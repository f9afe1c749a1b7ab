"""Idempotency-Key on mutating calls, against real server processes on both engines: a retry
with the same key and request gets the first answer and changes nothing; the same key on
another request is a 409; keys belong to one project and last 24 hours."""

import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from support.server import LiveServer, start_live_server
from tally.idempotency.service import fingerprint

_ids = itertools.count()


def _key() -> str:
    return f"key-{next(_ids)}-{time.monotonic_ns()}"


def _voucher(http: httpx.Client, **extra: Any) -> str:
    code = f"IDEM{next(_ids)}X{time.monotonic_ns()}"
    body = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}
    assert http.post(f"/v1/vouchers/{code}", json={**body, **extra}).status_code == 200
    return code


def _redemptions_of(http: httpx.Client, code: str) -> int:
    params = {"filters[voucher_code][conditions][$is]": code}
    total: int = http.get("/v1/redemptions", params=params).json()["total"]
    return total


def test_a_retried_redemption_is_answered_once_and_done_once(live_server: LiveServer) -> None:
    with live_server.client() as http:
        code = _voucher(http, redemption={"quantity": 5})
        key = _key()
        body = {"redeemables": [{"object": "voucher", "id": code}], "order": {"amount": 1000}}
        first = http.post("/v1/redemptions", json=body, headers={"Idempotency-Key": key})
        assert first.status_code == 200, first.text
        assert "idempotent-replayed" not in first.headers
        # The same request, its keys in another order and spaced otherwise.
        reordered = f'{{ "order": {{"amount": 1000}},\n "redeemables": [{{"id": "{code}", '
        reordered += '"object": "voucher"}]}'
        again = http.post(
            "/v1/redemptions",
            content=reordered.encode(),
            headers={"Idempotency-Key": key, "Content-Type": "application/json"},
        )
        assert again.status_code == 200
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert http.get(f"/v1/vouchers/{code}").json()["redemption"]["redeemed_quantity"] == 1
        assert _redemptions_of(http, code) == 1
        assert http.get(f"/v1/orders/{first.json()['order']['id']}").status_code == 200


def test_a_key_reused_on_another_request_is_a_conflict(live_server: LiveServer) -> None:
    with live_server.client() as http:
        key = _key()
        created = http.post("/v1/orders", json={"amount": 100}, headers={"Idempotency-Key": key})
        assert created.status_code == 200, created.text
        before = http.get("/v1/orders").json()["total"]
        for method, path, body in (
            ("POST", "/v1/orders", {"amount": 101}),
            ("POST", "/v1/customers", {"amount": 100}),
            ("PUT", f"/v1/orders/{created.json()['id']}", {"amount": 100}),
        ):
            response = http.request(method, path, json=body, headers={"Idempotency-Key": key})
            assert response.status_code == 409, response.text
            assert response.json()["key"] == "idempotency_key_reused"
        assert http.get("/v1/orders").json()["total"] == before
        assert http.get(f"/v1/orders/{created.json()['id']}").json() == created.json()


def test_a_refused_redemption_is_kept_and_a_rejected_request_is_not(
    live_server: LiveServer,
) -> None:
    with live_server.client() as http:
        code = _voucher(http, redemption={"quantity": 1})
        assert (
            http.post(f"/v1/vouchers/{code}/redemption", json={"order": {"amount": 10}}).status_code
            == 200
        )
        key = _key()
        body = {"redeemables": [{"object": "voucher", "id": code}], "order": {"amount": 500}}
        refused = http.post("/v1/redemptions", json=body, headers={"Idempotency-Key": key})
        assert (refused.status_code, refused.json()["key"]) == (400, "quantity_exceeded")
        again = http.post("/v1/redemptions", json=body, headers={"Idempotency-Key": key})
        assert again.json() == refused.json()  # the same failure record, not a second one
        params = {"filters[voucher_code][conditions][$is]": code, "result": "FAILURE"}
        assert http.get("/v1/redemptions", params=params).json()["total"] == 1
        # Rejected before any work (bad input): nothing kept, the key is still free.
        other = _key()
        bad = http.post("/v1/orders", json={"amount": -5}, headers={"Idempotency-Key": other})
        assert bad.status_code == 400
        good = http.post("/v1/orders", json={"amount": 5}, headers={"Idempotency-Key": other})
        assert good.status_code == 200, good.text


def test_keys_belong_to_one_project(live_server: LiveServer) -> None:
    other = live_server.new_project(f"idem-{next(_ids)}")
    key = _key()
    with live_server.client() as http:
        mine = http.post("/v1/orders", json={"amount": 300}, headers={"Idempotency-Key": key})
    with httpx.Client(
        base_url=live_server.base_url,
        headers={"X-App-Id": other["app_id"], "X-App-Token": other["app_token"]},
    ) as theirs_http:
        theirs = theirs_http.post(
            "/v1/orders", json={"amount": 300}, headers={"Idempotency-Key": key}
        )
        assert theirs.status_code == 200
        assert "idempotent-replayed" not in theirs.headers
        assert theirs.json()["id"] != mine.json()["id"]
        assert theirs_http.get(f"/v1/orders/{mine.json()['id']}").status_code == 404


def test_rollbacks_and_deletes_are_idempotent_too(live_server: LiveServer) -> None:
    with live_server.client() as http:
        code = _voucher(http)
        redeemed = http.post(f"/v1/vouchers/{code}/redemption", json={"order": {"amount": 700}})
        key = _key()
        path = f"/v1/redemptions/{redeemed.json()['id']}/rollback"
        first = http.post(path, headers={"Idempotency-Key": key})
        again = http.post(path, headers={"Idempotency-Key": key})
        assert first.status_code == again.status_code == 200, first.text
        assert again.json() == first.json()  # not "already rolled back"
        customer = http.post("/v1/customers", json={"source_id": f"gone-{next(_ids)}"}).json()
        key = _key()
        gone = http.delete(f"/v1/customers/{customer['id']}", headers={"Idempotency-Key": key})
        gone_again = http.delete(
            f"/v1/customers/{customer['id']}", headers={"Idempotency-Key": key}
        )
        assert (gone.status_code, gone_again.status_code) == (204, 204)
        assert gone_again.headers["idempotent-replayed"] == "true"
        assert http.delete(f"/v1/customers/{customer['id']}").status_code == 404


def test_a_body_json_cannot_write_back_is_fingerprinted_as_sent() -> None:
    # orjson reads 1024 levels of nesting and writes 254: such a body is compared as sent.
    deep = b"[" * 300 + b"]" * 300
    assert fingerprint("DELETE", "/v1/customers/c", "", deep) == fingerprint(
        "DELETE", "/v1/customers/c", "", deep
    )
    assert fingerprint("DELETE", "/v1/customers/c", "", deep) != fingerprint(
        "DELETE", "/v1/customers/c", "", b"[" + deep + b"]"
    )


def test_a_request_whose_body_cannot_be_written_back_is_done_once(
    live_server: LiveServer,
) -> None:
    with live_server.client() as http:
        customer = http.post("/v1/customers", json={"source_id": f"deep-{next(_ids)}"}).json()
        path, key = f"/v1/customers/{customer['id']}", _key()
        deep = b"[" * 300 + b"]" * 300  # a body the endpoint ignores
        headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
        gone = http.request("DELETE", path, content=deep, headers=headers)
        again = http.request("DELETE", path, content=deep, headers=headers)
        assert (gone.status_code, again.status_code) == (204, 204), gone.text
        assert again.headers["idempotent-replayed"] == "true"


def test_bad_keys_are_refused_and_reads_ignore_keys(live_server: LiveServer) -> None:
    with live_server.client() as http:
        for bad in (b"x" * 256, "caf\u00e9".encode()):
            response = http.post("/v1/orders", json={"amount": 1}, headers={"Idempotency-Key": bad})
            assert response.status_code == 400, response.text
            assert response.json()["key"] == "invalid_idempotency_key"
        key = _key()
        for _ in range(2):
            listed = http.get("/v1/orders", headers={"Idempotency-Key": key})
            assert listed.status_code == 200 and "idempotent-replayed" not in listed.headers


def test_a_key_older_than_24_hours_is_free_again(live_server: LiveServer) -> None:
    key = _key()
    with live_server.client() as http:
        first = http.post("/v1/orders", json={"amount": 1}, headers={"Idempotency-Key": key})
        engine = sa.create_engine(live_server.db_url)
        try:
            with engine.begin() as conn:
                conn.execute(
                    sa.text("UPDATE idempotency_keys SET created_at = :at WHERE key = :key"),
                    {"at": "2000-01-01 00:00:00", "key": key},
                )
        finally:
            engine.dispose()
        later = http.post("/v1/orders", json={"amount": 2}, headers={"Idempotency-Key": key})
        assert later.status_code == 200, later.text
        assert later.json()["id"] != first.json()["id"]


@pytest.fixture
def workers(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    live = start_live_server(db_url, tmp_path / "server", workers=2)
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.slow
def test_concurrent_retries_with_one_key_do_the_work_once(workers: LiveServer) -> None:
    with workers.client() as http:
        code = _voucher(http, redemption={"quantity": 20})
    key = _key()
    body = {"redeemables": [{"object": "voucher", "id": code}], "order": {"amount": 900}}

    def send(_: int) -> httpx.Response:
        with workers.client() as http:
            return http.post("/v1/redemptions", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(send, range(12)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses][:3]
    assert len({r.json()["redemptions"][0]["id"] for r in responses}) == 1
    with workers.client() as http:
        assert http.get(f"/v1/vouchers/{code}").json()["redemption"]["redeemed_quantity"] == 1
        assert _redemptions_of(http, code) == 1
        assert http.get("/v1/orders").json()["total"] == 1
