"""POST /v1/redemptions and the legacy one-redeemable redemptions: the order is saved with
its discounts in one transaction, redemptions are recorded, a refusal changes nothing but
its failure record; reading them back."""

from typing import Any

import pytest
import sqlalchemy as sa

from support.db import snapshot
from support.inprocess import AppClient
from support.spec import assert_matches

LINES = [
    {"source_id": "a", "price": 2000, "quantity": 1},
    {"source_id": "b", "price": 700, "quantity": 1},
]


def voucher(client: AppClient, code: str, discount: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"type": "DISCOUNT_VOUCHER", "discount": discount, **extra}
    response = client.post(f"/v1/vouchers/{code}", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def vouchers(*codes: str) -> list[dict[str, str]]:
    return [{"object": "voucher", "id": code} for code in codes]


def redeem(client: AppClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/redemptions", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert_matches(result, file="redemptions", schema="RedemptionsRedeemResponseBody")
    return result


def refused(
    client: AppClient, body: dict[str, Any], url: str = "/v1/redemptions"
) -> dict[str, Any]:
    """A refused redemption: 400, and nothing written but the failed redemption, its
    event, and its customer's count of failed redemptions (BEHAVIOR 14.5)."""
    before = _without_redemption_counts(snapshot(client.db))
    response = client.post(url, json=body)
    assert response.status_code in (400, 404), response.text
    error: dict[str, Any] = response.json()
    after = _without_redemption_counts(snapshot(client.db))
    written = ("redemptions", "events")
    assert {name: rows for name, rows in after.items() if name not in written} == {
        name: rows for name, rows in before.items() if name not in written
    }
    assert len(after["redemptions"]) == len(before["redemptions"]) + 1  # the failed redemption
    assert len(after["events"]) == len(before["events"]) + 1  # customer.redemption.failed
    return error


def _without_redemption_counts(
    tables: dict[str, list[tuple[object, ...]]],
) -> dict[str, list[tuple[object, ...]]]:
    """``tables`` with the customers' summary.redemptions counters left out."""
    from tally.customers.tables import customers

    kept = [i for i, c in enumerate(customers.columns) if not c.name.startswith("redemptions_")]
    rows = [tuple(row[i] for i in kept) for row in tables["customers"]]
    return {**tables, "customers": sorted(rows, key=repr)}


def order_of(client: AppClient, order_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/orders/{order_id}")
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()
    return order


def test_stacked_redemption_saves_the_order_with_every_figure(client: AppClient) -> None:
    """BEHAVIOR 5.12's vouchers, redeemed: the order is created PAID with the discounts,
    parent and children recorded, the order's redemptions entry names them."""
    voucher(client, "ITEMS", {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ITEMS"})
    voucher(client, "FORTY", {"type": "PERCENT", "percent_off": 40})
    voucher(client, "THIRTY", {"type": "AMOUNT", "amount_off": 30})
    result = redeem(
        client,
        {
            "redeemables": vouchers("ITEMS", "FORTY", "THIRTY"),
            "order": {"source_id": "o-1", "items": LINES},
            "customer": {"source_id": "alice", "email": "alice@example.com"},
            "metadata": {"channel": "web"},
        },
    )
    order = result["order"]
    assert order["id"].startswith("ord_")
    assert order["status"] == "PAID"
    assert (order["amount"], order["discount_amount"], order["items_discount_amount"]) == (
        2700,
        430,
        1700,
    )
    assert (order["total_discount_amount"], order["total_amount"]) == (2130, 570)
    assert (order["applied_discount_amount"], order["items_applied_discount_amount"]) == (430, 1700)
    assert order["total_applied_discount_amount"] == 2130
    assert [i["discount_amount"] for i in order["items"]] == [1000, 700]
    assert [i["applied_discount_amount"] for i in order["items"]] == [1000, 700]
    assert [i["subtotal_amount"] for i in order["items"]] == [1000, 0]

    parent = result["parent_redemption"]
    children = result["redemptions"]
    assert parent["id"].startswith("r_") and parent["redemption"] is None
    assert parent["related_object_type"] == "redemption"
    assert parent["related_object_id"] == parent["id"]
    assert [c["redemption"] for c in children] == [parent["id"]] * 3
    assert [c["voucher"]["code"] for c in children] == ["ITEMS", "FORTY", "THIRTY"]
    assert [c["order"]["total_applied_discount_amount"] for c in children] == [1700, 400, 30]
    assert [c["order"]["total_amount"] for c in children] == [1000, 600, 570]
    assert parent["order"]["total_applied_discount_amount"] == 2130
    customer_id = order["customer_id"]
    assert customer_id is not None  # the redeeming customer became the order's (8.5)
    for redemption in [parent, *children]:
        assert redemption["result"] == "SUCCESS" and redemption["status"] == "SUCCEEDED"
        assert redemption["customer_id"] == customer_id
        assert redemption["customer"]["source_id"] == "alice"
        assert redemption["metadata"] == {"channel": "web"}
        assert redemption["channel"]["channel_type"] == "API"
        assert redemption["order"]["id"] == order["id"]
    assert order["redemptions"] == {
        parent["id"]: {
            "date": parent["date"],
            "related_object_type": "redemption",
            "related_object_id": parent["id"],
            "stacked": [c["id"] for c in children],
        }
    }

    stored = order_of(client, order["id"])
    for name in ("status", "amount", "discount_amount", "items_discount_amount", "total_amount"):
        assert stored[name] == order[name]
    assert stored["redemptions"] == order["redemptions"]
    assert "applied_discount_amount" not in stored  # per-request figures are not stored
    customer = client.get(f"/v1/customers/{customer_id}").json()
    assert customer["summary"]["orders"]["total_amount"] == 570
    assert customer["summary"]["orders"]["total_count"] == 1
    for code in ("ITEMS", "FORTY", "THIRTY"):
        assert client.get(f"/v1/vouchers/{code}").json()["redemption"]["redeemed_quantity"] == 1


def test_a_later_redemption_adds_to_the_discounts_on_the_order(client: AppClient) -> None:
    """BEHAVIOR 5.14: the second request sends only the order id; the voucher is capped at
    what is left to pay."""
    voucher(client, "BIG", {"type": "AMOUNT", "amount_off": 9200})
    voucher(client, "THOUSAND", {"type": "AMOUNT", "amount_off": 1000})
    first = redeem(client, {"redeemables": vouchers("BIG"), "order": {"amount": 10000}})
    order_id = first["order"]["id"]
    assert first["redemptions"][0]["redemption"] is None
    assert "parent_redemption" not in first
    second = redeem(client, {"redeemables": vouchers("THOUSAND"), "order": {"id": order_id}})
    order = second["order"]
    assert order["id"] == order_id
    assert (order["discount_amount"], order["applied_discount_amount"]) == (10000, 800)
    assert order["total_amount"] == 0
    (child,) = second["redemptions"]
    assert child["order"]["applied_discount_amount"] == 800
    entries = order["redemptions"]
    assert list(entries) == [first["redemptions"][0]["id"], child["id"]]
    assert entries[child["id"]]["related_object_type"] == "voucher"
    assert entries[child["id"]]["related_object_id"] == child["voucher"]["id"]
    assert "related_object_parent_id" not in entries[child["id"]]  # a voucher of no campaign


def test_the_payload_status_wins_and_fields_are_upserted(client: AppClient) -> None:
    voucher(client, "TEN", {"type": "PERCENT", "percent_off": 10})
    created = client.post("/v1/orders", json={"source_id": "s-1", "amount": 5000}).json()
    result = redeem(
        client,
        {
            "redeemables": vouchers("TEN"),
            "order": {"source_id": "s-1", "status": "FULFILLED", "metadata": {"k": 1}},
        },
    )
    order = result["order"]
    assert order["id"] == created["id"]
    assert order["status"] == "FULFILLED"
    assert order["metadata"] == {"k": 1}
    assert (order["discount_amount"], order["total_amount"]) == (500, 4500)


@pytest.mark.parametrize(
    ("setup", "key"),
    [
        ({}, "resource_not_found"),
        ({"active": False}, "voucher_disabled"),
        ({"expiration_date": "2020-01-01T00:00:00Z"}, "voucher_expired"),
        ({"redemption": {"quantity": 1}}, "quantity_exceeded"),
    ],
)
def test_a_refused_redemption_leaves_the_order_as_it_was(
    client: AppClient, setup: dict[str, Any], key: str
) -> None:
    voucher(client, "GOOD", {"type": "AMOUNT", "amount_off": 100})
    if key != "resource_not_found":
        voucher(client, "BAD", {"type": "AMOUNT", "amount_off": 100}, **setup)
    if key == "quantity_exceeded":
        redeem(client, {"redeemables": vouchers("BAD"), "order": {"amount": 1000}})
    order = client.post(
        "/v1/orders", json={"amount": 1000, "status": "CREATED", "customer": {"source_id": "c"}}
    ).json()
    error = refused(
        client,
        {
            "redeemables": vouchers("GOOD", "BAD"),
            "order": {"id": order["id"], "amount": 5000, "status": "PAID"},
        },
    )
    assert error["code"] == 400
    assert error["key"] == ("not_found" if key == "resource_not_found" else key)
    assert error["resource_type"] == "redemption"
    assert error["resource_id"].startswith("rf_")
    assert order_of(client, order["id"]) == order
    assert client.get("/v1/vouchers/GOOD").json()["redemption"]["redeemed_quantity"] == 0

    failed = client.get(f"/v1/redemptions/{error['resource_id']}")
    assert failed.status_code == 200, failed.text
    record = failed.json()
    assert_matches(record, file="redemptions", schema="RedemptionsGetResponseBody")
    assert (record["result"], record["status"], record["failure_code"]) == (
        "FAILURE",
        "FAILED",
        key,
    )
    assert record["related_object_type"] == "voucher"
    assert record["order"]["id"] == order["id"]
    assert record["customer_id"] == order["customer_id"]
    summary = client.get("/v1/customers/c").json()["summary"]["redemptions"]
    assert (summary["total_failed"], summary["total_succeeded"]) == (1, 0)


def test_a_refused_new_order_is_not_created(client: AppClient) -> None:
    voucher(client, "ORDERONLY", {"type": "AMOUNT", "amount_off": 100, "effect": "APPLY_TO_ITEMS"})
    error = refused(
        client, {"redeemables": vouchers("ORDERONLY"), "order": {"source_id": "new", "amount": 10}}
    )
    assert error["key"] == "missing_order_items"
    assert client.get("/v1/orders/new").status_code == 404


def test_request_level_errors_record_nothing(client: AppClient) -> None:
    voucher(client, "ONCE", {"type": "AMOUNT", "amount_off": 100})
    before = snapshot(client.db)
    for body, key in [
        ({"redeemables": vouchers("ONCE", "ONCE")}, "duplicated_redeemables"),
        ({"redeemables": []}, "invalid_payload"),
        ({"redeemables": vouchers("ONCE"), "order": {"id": "ord_missing"}}, "not_found"),
    ]:
        response = client.post("/v1/redemptions", json=body)
        assert response.json()["key"] == key, response.text
    v_id = client.get("/v1/vouchers/ONCE").json()["id"]
    response = client.post(
        "/v1/redemptions",
        json={
            "redeemables": [{"object": "voucher", "id": "ONCE"}, {"object": "voucher", "id": v_id}]
        },
    )
    assert response.json()["key"] == "duplicated_redeemables"
    assert snapshot(client.db) == before


def test_the_last_use_goes_to_one_redemption(client: AppClient) -> None:
    voucher(client, "LAST", {"type": "AMOUNT", "amount_off": 100}, redemption={"quantity": 2})
    for _ in range(2):
        redeem(client, {"redeemables": vouchers("LAST"), "order": {"amount": 1000}})
    error = refused(client, {"redeemables": vouchers("LAST"), "order": {"amount": 1000}})
    assert error["key"] == "quantity_exceeded"
    assert client.get("/v1/vouchers/LAST").json()["redemption"]["redeemed_quantity"] == 2


def test_legacy_voucher_redemption(client: AppClient) -> None:
    voucher(client, "LEGACY", {"type": "AMOUNT", "amount_off": 250})
    response = client.post(
        "/v1/vouchers/LEGACY/redemption",
        json={"customer": "cust-source", "order": {"amount": 1000}},
    )
    assert response.status_code == 200, response.text
    redemption = response.json()
    assert_matches(redemption, file="redemptions", schema="RedemptionsGetResponseBody")
    assert redemption["redemption"] is None
    assert redemption["voucher"]["code"] == "LEGACY"
    assert redemption["order"]["total_amount"] == 750
    assert redemption["order"]["applied_discount_amount"] == 250
    assert redemption["customer"]["source_id"] == "cust-source"
    for field, value in (("session", {"type": "LOCK"}), ("gift", {"credits": 1})):
        refused_body = client.post(
            "/v1/vouchers/LEGACY/redemption", json={"order": {"amount": 1}, field: value}
        )
        assert refused_body.status_code == 400
        assert field in refused_body.json()["details"]
    missing = client.post("/v1/vouchers/NOPE/redemption", json={"order": {"amount": 1000}})
    assert missing.status_code == 404
    assert (missing.json()["resource_type"], missing.json()["resource_id"]) == ("voucher", "NOPE")
    disabled = voucher(client, "OFF", {"type": "AMOUNT", "amount_off": 1}, active=False)
    error = refused(
        client, {"order": {"amount": 1000}}, url=f"/v1/vouchers/{disabled['code']}/redemption"
    )
    assert (error["code"], error["key"]) == (400, "voucher_disabled")


def test_legacy_tier_redemption(client: AppClient) -> None:
    campaign = client.post(
        "/v1/campaigns",
        json={
            "name": "Spring",
            "campaign_type": "PROMOTION",
            "promotion": {
                "tiers": [
                    {
                        "name": "Ten off",
                        "action": {"discount": {"type": "AMOUNT", "amount_off": 10}},
                    }
                ]
            },
        },
    ).json()
    tier = campaign["promotion"]["tiers"][0]
    response = client.post(
        f"/v1/promotions/tiers/{tier['id']}/redemption", json={"order": {"amount": 100}}
    )
    assert response.status_code == 200, response.text
    redemption = response.json()
    assert redemption["related_object_type"] == "promotion_tier"
    assert redemption["promotion_tier"]["id"] == tier["id"]
    assert redemption["order"]["total_amount"] == 90
    entry = redemption["order"]["redemptions"][redemption["id"]]
    assert entry["related_object_parent_id"] == campaign["id"]
    summary = client.get(f"/v1/promotions/tiers/{tier['id']}").json()["summary"]
    assert summary["redemptions"]["total_redeemed"] == 1
    assert summary["orders"] == {"total_amount": 100, "total_discount_amount": 10}
    rolled = client.post(f"/v1/redemptions/{redemption['id']}/rollback")
    assert rolled.status_code == 200, rolled.text
    summary = client.get(f"/v1/promotions/tiers/{tier['id']}").json()["summary"]
    assert summary["redemptions"]["total_redeemed"] == 0
    assert summary["orders"] == {"total_amount": 0, "total_discount_amount": 0}


def test_redemptions_are_scoped_to_their_project(client: AppClient) -> None:
    voucher(client, "MINE", {"type": "AMOUNT", "amount_off": 1})
    result = redeem(client, {"redeemables": vouchers("MINE"), "order": {"amount": 10}})
    other = client.as_project(client.new_project("other"))
    assert other.get(f"/v1/redemptions/{result['redemptions'][0]['id']}").status_code == 404
    assert other.post("/v1/redemptions", json={"redeemables": vouchers("MINE")}).status_code == 400


def test_the_order_row_is_written_once_per_redemption(client: AppClient) -> None:
    """One transaction: the order and its redemptions are there together."""
    voucher(client, "ONE", {"type": "AMOUNT", "amount_off": 1})
    result = redeem(client, {"redeemables": vouchers("ONE"), "order": {"amount": 10}})
    with client.db.transaction(write=False) as conn:
        count = conn.execute(
            sa.text("SELECT count(*) FROM redemptions WHERE order_id = :o"),
            {"o": result["order"]["id"]},
        ).scalar_one()
    assert count == 1


def test_a_large_stack_on_a_large_order(client: AppClient) -> None:
    """Beyond the small-work size (QUICK_WORK) the work runs on a worker thread: the same
    result."""
    codes = [f"BULK{i}" for i in range(10)]
    for code in codes:
        voucher(client, code, {"type": "AMOUNT", "amount_off": 100, "effect": "APPLY_TO_ITEMS"})
    items = [{"source_id": f"line-{i}", "price": 1000, "quantity": 1} for i in range(60)]
    result = redeem(client, {"redeemables": vouchers(*codes[:5]), "order": {"items": items}})
    order = result["order"]
    assert order["items_discount_amount"] == 5 * 60 * 100
    assert order["total_amount"] == 60 * 1000 - 5 * 60 * 100
    assert len(result["redemptions"]) == 5


@pytest.mark.parametrize(
    "path", ["/v1/vouchers/{}/redemption", "/v1/promotions/tiers/{}/redemption"]
)
def test_a_legacy_redemption_of_an_overlong_name_is_not_found(client: AppClient, path: str) -> None:
    """Longer than any code or id: nothing stored has it, so 404 as for any unknown one,
    refused before anything is written (it was a 500: the path became a redeemable whose
    id is limited to 255 characters)."""
    longest = client.post(path.format("x" * 255), json={"order": {"amount": 1000}})
    assert longest.status_code == 404, longest.text
    before = snapshot(client.db)
    for name in ("x" * 256, "x" * 5000):
        response = client.post(path.format(name), json={"order": {"amount": 1000}})
        assert response.status_code == 404, response.text
        assert response.json()["key"] == "not_found"
    assert snapshot(client.db) == before
