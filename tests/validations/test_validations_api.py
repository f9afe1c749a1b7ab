"""POST /v1/validations with vouchers: the spec's worked examples through the API, every
per-redeemable status, request-level errors; nothing is ever written."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from support.db import snapshot
from support.inprocess import AppClient
from support.spec import assert_matches


def voucher(client: AppClient, code: str, discount: dict[str, Any], **extra: Any) -> None:
    body = {"type": "DISCOUNT_VOUCHER", "discount": discount, **extra}
    response = client.post(f"/v1/vouchers/{code}", json=body)
    assert response.status_code == 200, response.text


def validate(client: AppClient, body: dict[str, Any]) -> dict[str, Any]:
    before = snapshot(client.db)
    response = client.post("/v1/validations", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert_matches(result, file="validations", schema="ValidationsValidateResponseBody")
    for redeemable in result["redeemables"]:
        if redeemable["status"] == "APPLICABLE":
            # The official result is a oneOf of loose objects (see support.spec): check
            # the voucher branch on its own.
            assert_matches(redeemable["result"], "validations", "RedeemableResultVoucherCode")
    assert snapshot(client.db) == before  # a validation writes nothing
    return result


def redeem(*codes: str) -> list[dict[str, str]]:
    return [{"object": "voucher", "id": code} for code in codes]


LINES = [
    {"source_id": "a", "price": 2000, "quantity": 1},
    {"source_id": "b", "price": 700, "quantity": 1},
]


def test_example_a_in_request_order(client: AppClient) -> None:
    """BEHAVIOR 5.12 without the gift and loyalty cards: 1,000 off each item, then 40 % and
    30 off the order, each on what the ones before it left."""
    voucher(client, "ITEMS", {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ITEMS"})
    voucher(client, "FORTY", {"type": "PERCENT", "percent_off": 40})
    voucher(client, "THIRTY", {"type": "AMOUNT", "amount_off": 30})
    result = validate(
        client, {"redeemables": redeem("ITEMS", "FORTY", "THIRTY"), "order": {"items": LINES}}
    )
    assert result["valid"] is True
    assert [r["status"] for r in result["redeemables"]] == ["APPLICABLE"] * 3
    first, forty, thirty = (r["order"] for r in result["redeemables"])
    assert [i["applied_discount_amount"] for i in first["items"]] == [1000, 700]
    assert (first["items_applied_discount_amount"], first["total_amount"]) == (1700, 1000)
    assert (forty["applied_discount_amount"], forty["total_amount"]) == (400, 600)
    assert (thirty["applied_discount_amount"], thirty["discount_amount"]) == (30, 430)
    assert thirty["items_applied_discount_amount"] == 0
    order = result["order"]
    assert "id" not in order  # an order the validation did not find is not saved
    assert order["amount"] == 2700
    assert order["discount_amount"] == 430
    assert order["items_discount_amount"] == 1700
    assert order["total_discount_amount"] == 2130
    assert order["total_amount"] == 570
    assert order["applied_discount_amount"] == 430
    assert order["total_applied_discount_amount"] == 2130
    assert [i["subtotal_amount"] for i in order["items"]] == [1000, 0]
    assert result["redeemables"][1]["result"]["discount"]["percent_off"] == 40
    assert result["stacking_rules"]["redeemables_application_mode"] == "ALL"
    assert result["id"].startswith("valid_")


def test_example_b_running_total(client: AppClient) -> None:
    """BEHAVIOR 5.13 (the gift card's 100 credits as a 100 voucher)."""
    voucher(client, "HUNDRED", {"type": "AMOUNT", "amount_off": 100})
    voucher(client, "TWENTY", {"type": "PERCENT", "percent_off": 20})
    voucher(client, "EIGHTK", {"type": "AMOUNT", "amount_off": 8000})
    result = validate(
        client,
        {"redeemables": redeem("HUNDRED", "TWENTY", "EIGHTK"), "order": {"amount": 200000}},
    )
    snapshots = [r["order"] for r in result["redeemables"]]
    assert [s["applied_discount_amount"] for s in snapshots] == [100, 39980, 8000]
    assert [s["discount_amount"] for s in snapshots] == [100, 40080, 48080]
    assert result["order"]["total_amount"] == 151920


def test_a_stored_order_is_computed_on_and_left_as_it_was(client: AppClient) -> None:
    created = client.post("/v1/orders", json={"source_id": "shop-1", "amount": 10000}).json()
    voucher(client, "TEN", {"type": "PERCENT", "percent_off": 10})
    by_id = validate(client, {"redeemables": redeem("TEN"), "order": {"id": created["id"]}})
    assert by_id["order"]["id"] == created["id"]
    assert by_id["order"]["applied_discount_amount"] == 1000
    # Sent fields go over the stored ones for the computation only.
    changed = validate(
        client, {"redeemables": redeem("TEN"), "order": {"source_id": "shop-1", "amount": 5000}}
    )
    assert changed["order"]["id"] == created["id"]
    assert changed["order"]["applied_discount_amount"] == 500
    assert client.get("/v1/orders/shop-1").json() == created
    unknown = client.post(
        "/v1/validations", json={"redeemables": redeem("TEN"), "order": {"id": "ord_nope"}}
    )
    assert unknown.status_code == 404 and unknown.json()["resource_type"] == "order"


def test_all_mode_fails_the_whole_request_at_the_first_inapplicable(client: AppClient) -> None:
    voucher(client, "OK", {"type": "AMOUNT", "amount_off": 100})
    voucher(client, "LATER", {"type": "AMOUNT", "amount_off": 100})
    result = validate(
        client, {"redeemables": redeem("OK", "MISSING", "LATER"), "order": {"amount": 1000}}
    )
    assert result["valid"] is False
    ok, missing, later = result["redeemables"]
    assert ok["status"] == "APPLICABLE"
    assert missing["status"] == "INAPPLICABLE"
    assert missing["result"]["error"]["key"] == "not_found"
    assert missing["result"]["error"]["details"] == "Cannot find voucher with id MISSING"
    assert later["status"] == "SKIPPED"
    assert later["result"]["details"]["key"] == "preceding_validation_failed"
    # Nothing takes effect when the request fails.
    assert result["order"]["total_applied_discount_amount"] == 0
    assert result["order"]["total_amount"] == 1000


def _today_and_tomorrow() -> tuple[int, int]:
    today = (datetime.now(UTC).weekday() + 1) % 7
    return today, (today + 1) % 7


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"active": False}, "voucher_disabled"),
        ({"start_date": (datetime.now(UTC) + timedelta(days=2)).isoformat()}, "voucher_not_active"),
        ({"expiration_date": "2020-01-01T00:00:00Z"}, "voucher_expired"),
        ({"validity_day_of_week": [_today_and_tomorrow()[1]]}, "voucher_not_active_now"),
    ],
)
def test_vouchers_that_cannot_be_used_now(
    client: AppClient, extra: dict[str, Any], key: str
) -> None:
    voucher(client, "NOPE", {"type": "AMOUNT", "amount_off": 100}, **extra)
    result = validate(client, {"redeemables": redeem("NOPE"), "order": {"amount": 1000}})
    assert result["valid"] is False
    assert result["redeemables"][0]["result"]["error"]["key"] == key
    assert result["redeemables"][0]["result"]["details"]["key"] == key


def test_a_voucher_valid_today_applies(client: AppClient) -> None:
    today, _ = _today_and_tomorrow()
    voucher(client, "TODAY", {"type": "AMOUNT", "amount_off": 100}, validity_day_of_week=[today])
    result = validate(client, {"redeemables": redeem("TODAY"), "order": {"amount": 1000}})
    assert result["valid"] is True


def test_discounts_that_need_an_amount_or_items(client: AppClient) -> None:
    voucher(client, "ORDER", {"type": "AMOUNT", "amount_off": 100})
    voucher(client, "ITEMS", {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ITEMS"})
    no_amount = validate(client, {"redeemables": redeem("ORDER")})
    assert no_amount["redeemables"][0]["result"]["error"]["key"] == "missing_amount"
    no_items = validate(client, {"redeemables": redeem("ITEMS"), "order": {"amount": 500}})
    assert no_items["redeemables"][0]["result"]["error"]["key"] == "missing_order_items"
    unpriced = validate(
        client, {"redeemables": redeem("ITEMS"), "order": {"items": [{"source_id": "x"}]}}
    )
    assert unpriced["redeemables"][0]["result"]["error"]["key"] == "missing_order_items_amount"


def test_more_applicable_redeemables_than_the_limit_are_skipped(client: AppClient) -> None:
    for n in range(6):
        voucher(client, f"V{n}", {"type": "AMOUNT", "amount_off": 10})
    result = validate(
        client, {"redeemables": redeem(*[f"V{n}" for n in range(6)]), "order": {"amount": 1000}}
    )
    statuses = [r["status"] for r in result["redeemables"]]
    assert statuses == ["APPLICABLE"] * 5 + ["SKIPPED"]
    details = result["redeemables"][5]["result"]["details"]
    assert details["key"] == "applicable_redeemables_limit_exceeded"
    assert result["valid"] is True
    assert result["order"]["applied_discount_amount"] == 50


def test_a_voucher_can_be_named_by_its_id(client: AppClient) -> None:
    voucher(client, "BYID", {"type": "AMOUNT", "amount_off": 100})
    voucher_id = client.get("/v1/vouchers/BYID").json()["id"]
    result = validate(client, {"redeemables": redeem(voucher_id), "order": {"amount": 1000}})
    assert result["valid"] is True and result["redeemables"][0]["id"] == voucher_id


@pytest.mark.parametrize(
    ("body", "key", "needle"),
    [
        ({"redeemables": redeem("A", "A")}, "duplicated_redeemables", "Duplicated"),
        ({"redeemables": []}, "invalid_payload", "redeemables"),
        ({"redeemables": redeem(*[f"C{n}" for n in range(31)])}, "invalid_payload", "30"),
        (
            {"redeemables": [{"object": "promotion_stack", "id": "stack_1"}]},
            "invalid_payload",
            "promotion_stack",
        ),
        (
            {"redeemables": [{"object": "voucher", "id": "G", "gift": {"credits": 5}}]},
            "invalid_payload",
            "gift",
        ),
        ({"redeemables": [{"object": "coupon", "id": "A"}]}, "invalid_payload", "object"),
        ({"redeemables": redeem("A"), "session": {"type": "LOCK"}}, "invalid_payload", "session"),
        ({"redeemables": redeem("A"), "order": {"amount": -1}}, "invalid_payload", "amount"),
        (
            {"redeemables": redeem("A"), "order": {"metadata": {"note": "a\u0000b"}}},
            "invalid_payload",
            ".order.metadata.note",
        ),
    ],
)
def test_request_errors(client: AppClient, body: dict[str, Any], key: str, needle: str) -> None:
    before = snapshot(client.db)
    response = client.post("/v1/validations", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["key"] == key
    assert needle in response.json()["details"], response.json()
    assert snapshot(client.db) == before


def test_other_projects_vouchers_are_not_found(client: AppClient) -> None:
    other = client.as_project(client.new_project("other"))
    assert (
        other.post(
            "/v1/vouchers/THEIRS",
            json={"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 5}},
        ).status_code
        == 200
    )
    result = validate(client, {"redeemables": redeem("THEIRS"), "order": {"amount": 100}})
    assert result["redeemables"][0]["result"]["error"]["key"] == "not_found"


def test_legacy_voucher_validation(client: AppClient) -> None:
    """POST /v1/vouchers/{code}/validate: one voucher, nothing written."""
    voucher(client, "LEGACY10", {"type": "PERCENT", "percent_off": 10}, metadata={"k": "v"})
    voucher(client, "LEGACYOFF", {"type": "AMOUNT", "amount_off": 1}, active=False)
    before = snapshot(client.db)
    response = client.post(
        "/v1/vouchers/LEGACY10/validate",
        json={"order": {"items": LINES}, "tracking_id": "t-1"},
    )
    assert response.status_code == 200, response.text
    valid = response.json()
    # The official oneOf cannot tell its two loose branches apart: check each on its own.
    assert_matches(valid, file="validations", schema="VouchersValidateValidResponseBody")
    assert (valid["valid"], valid["code"], valid["tracking_id"]) == (True, "LEGACY10", "t-1")
    assert valid["order"]["applied_discount_amount"] == 270
    assert valid["order"]["total_amount"] == 2430
    assert valid["discount"]["percent_off"] == 10
    assert valid["metadata"] == {"k": "v"}
    invalid = client.post("/v1/vouchers/LEGACYOFF/validate", json={"order": {"amount": 10}})
    assert invalid.status_code == 200, invalid.text
    body = invalid.json()
    assert_matches(body, file="validations", schema="VouchersValidateInvalidResponseBody")
    assert body["valid"] is False and body["error"]["key"] == "voucher_disabled"
    assert body["reason"] == body["error"]["message"]
    missing = client.post("/v1/vouchers/NOPE/validate", json={})
    assert (missing.status_code, missing.json()["key"]) == (404, "not_found")
    assert snapshot(client.db) == before


def test_an_unknown_product_or_sku_id_is_kept_on_a_validation_and_404_on_a_redemption(
    client: AppClient,
) -> None:
    """BEHAVIOR 15.3: the line is kept and matches no product; a write refuses it."""
    voucher(client, "TEN", {"type": "AMOUNT", "amount_off": 1000})
    for item in (
        {"product_id": "prod_nope", "price": 3000, "quantity": 1},
        {"sku_id": "sku_nope", "price": 3000, "quantity": 1},
    ):
        result = validate(client, {"redeemables": redeem("TEN"), "order": {"items": [item]}})
        assert result["valid"] is True
        line = result["order"]["items"][0]
        kind = "product_id" if "product_id" in item else "sku_id"
        assert line[kind] == item[kind]
        assert result["order"]["total_amount"] == 2000
        refused = client.post(
            "/v1/redemptions", json={"redeemables": redeem("TEN"), "order": {"items": [item]}}
        )
        assert refused.status_code == 404, refused.text
        assert refused.json()["resource_type"] == kind.removesuffix("_id")
    assert client.get("/v1/orders").json()["total"] == 0
