"""Bad input: a 4xx with Voucherify's error JSON naming the field, and nothing written."""

from collections.abc import Iterator
from typing import Any

import pytest

from support.db import snapshot
from support.inprocess import AppClient


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


BASE = {"source_id": "base", "items": [{"price": 100, "quantity": 1}]}

BAD_BODIES: list[tuple[str, Any, str]] = [
    ("amount negative", {"amount": -1}, ".amount"),
    ("amount fractional", {"amount": 10.5}, ".amount"),
    ("amount string", {"amount": "100"}, ".amount"),
    ("amount boolean", {"amount": True}, ".amount"),
    ("price negative", {"items": [{"price": -5}]}, ".items[0].price"),
    ("price fractional", {"items": [{"price": 1.5}]}, ".items[0].price"),
    ("quantity zero", {"items": [{"price": 5, "quantity": 0}]}, ".items[0].quantity"),
    ("quantity fractional", {"items": [{"quantity": 1.5}]}, ".items[0].quantity"),
    ("quantity negative string", {"items": [{"quantity": "-1"}]}, ".items[0].quantity"),
    ("product price negative", {"items": [{"product": {"price": -1}}]}, ".items[0].product.price"),
    # Found by schemathesis: Decimal could not round a float this large (a 500).
    (
        "product price huge",
        {"items": [{"product": {"price": 1.17e247}}]},
        ".items[0].product.price",
    ),
    ("sku price huge negative", {"items": [{"sku": {"price": -7.6e141}}]}, ".items[0].sku.price"),
    ("status unknown", {"status": "PROCESSING"}, ".status"),
    ("status lowercase", {"status": "paid"}, ".status"),
    ("metadata array", {"metadata": [1, 2]}, ".metadata"),
    ("metadata string", {"metadata": "x"}, ".metadata"),
    ("item metadata", {"items": [{"metadata": 3}]}, ".items[0].metadata"),
    ("items object", {"items": {"a": 1}}, ".items"),
    ("customer string", {"customer": "bob"}, ".customer"),
    ("related object", {"items": [{"related_object": "thing"}]}, ".items[0].related_object"),
    ("too many items", {"items": [{"price": 1}] * 501}, ".items"),
    ("source id too long", {"source_id": "x" * 256}, ".source_id"),
    ("birthdate not a date", {"customer": {"birthdate": "soon"}}, ".customer.birthdate"),
    ("line over the money limit", {"items": [{"price": 10**13, "quantity": 1000}]}, ".items[0]"),
    ("metadata int over 64 bits", {"metadata": {"n": 2**64}}, ".metadata.n"),
    ("metadata NUL", {"metadata": {"t": "a\u0000b"}}, ".metadata.t"),
    ("metadata key NUL", {"metadata": {"k\u0000": 1}}, ".metadata"),
    ("source id NUL", {"source_id": "a\u0000b"}, ".source_id"),
    ("customer name NUL", {"customer": {"name": "\u0000"}}, ".customer.name"),
    ("item metadata deep", {"items": [{"metadata": {"a": _nested(40)}}]}, ".items[0].metadata"),
    ("body not an object", [1, 2], "."),
    # Valid ISO 8601, out of a datetime's years once in UTC (were 500s; an import failed).
    ("created_at before year 1", {"created_at": "0001-01-01T00:30:00+01:00"}, ".created_at"),
    ("created_at after 9999", {"created_at": "9999-12-31T23:00:00-05:00"}, ".created_at"),
]


@pytest.fixture
def seeded(client: AppClient) -> Iterator[AppClient]:
    assert client.post("/v1/orders", json=BASE).status_code == 200
    yield client


def assert_error(response: Any, status: int, key: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == status
    assert body["key"] == key
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], str) and body["details"]
    assert body["request_id"].startswith("v-")
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(("name", "body", "field"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_create_body_is_rejected_and_writes_nothing(
    seeded: AppClient, name: str, body: Any, field: str
) -> None:
    before = snapshot(seeded.db)
    error = assert_error(seeded.post("/v1/orders", json=body), 400, "invalid_payload")
    assert field in error["details"]
    assert snapshot(seeded.db) == before


@pytest.mark.parametrize(("name", "body", "field"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_update_body_is_rejected_and_writes_nothing(
    seeded: AppClient, name: str, body: Any, field: str
) -> None:
    before = snapshot(seeded.db)
    error = assert_error(seeded.put("/v1/orders/base", json=body), 400, "invalid_payload")
    assert field in error["details"]
    assert snapshot(seeded.db) == before


@pytest.mark.parametrize(
    "raw",
    [b"{bad json", b'{"amount": 1,}', b"\xff\xfe", b'{"amount": 1', b"[]", b"42"],
    ids=["unquoted", "trailing comma", "not utf-8", "truncated", "array", "number"],
)
def test_malformed_json(seeded: AppClient, raw: bytes) -> None:
    before = snapshot(seeded.db)
    response = seeded.post("/v1/orders", content=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_payload")
    assert snapshot(seeded.db) == before


def test_empty_body_means_nothing_to_set(seeded: AppClient) -> None:
    # SDK calls without arguments send Content-Type: application/json and no body.
    json_header = {"Content-Type": "application/json"}
    before = seeded.get("/v1/orders/base").json()
    unchanged = seeded.put("/v1/orders/base", headers=json_header)
    assert unchanged.status_code == 200, unchanged.text
    assert {k: v for k, v in unchanged.json().items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }
    created = seeded.post("/v1/orders", headers=json_header)
    assert created.status_code == 200, created.text
    assert created.json()["amount"] == 0 and created.json()["status"] == "CREATED"


def test_wrong_content_type(seeded: AppClient) -> None:
    before = snapshot(seeded.db)
    response = seeded.post(
        "/v1/orders",
        content=b"amount=5",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(response, 415, "unsupported_media_type")
    assert snapshot(seeded.db) == before


def test_body_over_the_size_limit(seeded: AppClient) -> None:
    before = snapshot(seeded.db)
    big = {"metadata": {"blob": "x" * 2_000_000}}
    body = assert_error(seeded.post("/v1/orders", json=big), 413, "query_too_large")
    assert "bytes" in body["details"]
    assert snapshot(seeded.db) == before


def test_streamed_body_over_the_limit_without_content_length(seeded: AppClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"metadata": {"blob": "'
        for _ in range(300):
            yield b"x" * 10_000
        yield b'"}}'

    before = snapshot(seeded.db)
    response = seeded.post(
        "/v1/orders", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "query_too_large")
    assert snapshot(seeded.db) == before


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, ".limit"),
        ({"limit": 101}, ".limit"),
        ({"limit": "ten"}, ".limit"),
        ({"page": 0}, ".page"),
        ({"page": 101}, ".page"),
        ({"order": "amount"}, ".order"),
    ],
)
def test_bad_list_query(seeded: AppClient, params: dict[str, Any], field: str) -> None:
    body = assert_error(seeded.get("/v1/orders", params=params), 400, "invalid_query_params")
    assert field in body["details"]


def test_unknown_order_id_on_get_and_put(seeded: AppClient) -> None:
    before = snapshot(seeded.db)
    assert_error(seeded.get("/v1/orders/nope"), 404, "not_found")
    assert_error(seeded.put("/v1/orders/nope", json={"status": "PAID"}), 404, "not_found")
    assert snapshot(seeded.db) == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-App-Id": "nope"},
        {"X-App-Token": "nope"},
        {"X-App-Id": "nope", "X-App-Token": "nope"},
    ],
    ids=["none", "id only", "token only", "unknown pair"],
)
def test_missing_or_wrong_keys_are_401(seeded: AppClient, headers: dict[str, str]) -> None:
    before = snapshot(seeded.db)
    for response in (
        seeded.anonymous.get("/v1/orders", headers=headers),
        seeded.anonymous.post("/v1/orders", json=BASE, headers=headers),
    ):
        assert response.status_code == 401
        body = response.json()
        assert (body["code"], body["key"], body["message"]) == (401, "unauthorized", "Unauthorized")
    assert snapshot(seeded.db) == before


def test_right_app_id_with_wrong_token_is_401(seeded: AppClient) -> None:
    headers = {"X-App-Id": seeded.project.app_id, "X-App-Token": seeded.project.app_token + "x"}
    response = seeded.anonymous.get("/v1/orders", headers=headers)
    assert response.status_code == 401


def test_unknown_route_and_wrong_method(seeded: AppClient) -> None:
    assert_error(seeded.get("/v1/nothing-here"), 404, "not_found")
    error = assert_error(seeded.delete("/v1/orders"), 405, "method_not_allowed")
    assert "GET" in error["details"] and "POST" in error["details"]
