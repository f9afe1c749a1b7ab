"""validation_rules in the create bodies of vouchers, campaigns and promotion tiers
(BEHAVIOR 16.8, 11.2), on both engines: assigned in the creating transaction, printed in the
objects' assignment lists, enforced in validations; an unknown rule creates nothing."""

from typing import Any

from support.db import snapshot
from support.inprocess import AppClient
from support.spec import assert_matches

BIG_CART = {
    "name": "order over 100",
    "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [10000]}}},
    "error": {"message": "Spend more than $100"},
}
MUGS_ONLY = {
    "name": "mugs only",
    "applicable_to": {"included": [{"object": "product", "source_id": "mug"}]},
}


def _post(client: AppClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def _valid(client: AppClient, redeemable: dict[str, Any], amount: int) -> bool:
    body = {"redeemables": [redeemable], "order": {"amount": amount}}
    return bool(_post(client, "/v1/validations", body)["valid"])


def test_a_voucher_made_with_rules_has_them_assigned(client: AppClient) -> None:
    rule = _post(client, "/v1/validation-rules", BIG_CART)
    voucher = _post(
        client,
        "/v1/vouchers/BIG",
        {
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "AMOUNT", "amount_off": 500},
            "validation_rules": [rule["id"]],
        },
    )
    assert_matches(voucher, "vouchers", "VouchersCreateResponseBody")
    listed = voucher["validation_rules_assignments"]
    assert (listed["total"], listed["data"][0]["rule_id"]) == (1, rule["id"])
    assert listed["data"][0]["related_object_id"] == voucher["id"]
    fetched = client.get("/v1/vouchers/BIG").json()
    assert fetched["validation_rules_assignments"] == listed
    assert client.get(f"/v1/validation-rules/{rule['id']}").json()["assignments_count"] == 1
    assert not _valid(client, {"object": "voucher", "id": "BIG"}, 5000)
    assert _valid(client, {"object": "voucher", "id": "BIG"}, 20000)
    # The same, made from a body with a code (POST /v1/vouchers).
    made = _post(
        client,
        "/v1/vouchers",
        {
            "code": "BIG2",
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "AMOUNT", "amount_off": 500},
            "validation_rules": [rule["id"]],
        },
    )
    assert made["validation_rules_assignments"]["total"] == 1


def test_an_unknown_rule_creates_nothing(client: AppClient) -> None:
    before = snapshot(client.db)
    response = client.post(
        "/v1/vouchers/NORULE",
        json={
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "AMOUNT", "amount_off": 500},
            "validation_rules": ["val_missing"],
        },
    )
    assert (response.status_code, response.json()["resource_id"]) == (404, "val_missing")
    campaign = client.post(
        "/v1/campaigns",
        json={
            "name": "ruled",
            "campaign_type": "PROMOTION",
            "validation_rules": ["val_missing"],
            "promotion": {
                "tiers": [
                    {"name": "t", "action": {"discount": {"type": "AMOUNT", "amount_off": 5}}}
                ]
            },
        },
    )
    assert campaign.status_code == 404
    assert snapshot(client.db) == before


def test_rules_naming_products_make_the_default_effect_apply_to_items(client: AppClient) -> None:
    rule = _post(client, "/v1/validation-rules", MUGS_ONLY)
    cart_rule = _post(client, "/v1/validation-rules", BIG_CART)
    effects = {}
    for code, rules in (("ITEMS", [rule["id"]]), ("ORDER", [cart_rule["id"]]), ("NONE", [])):
        voucher = _post(
            client,
            f"/v1/vouchers/{code}",
            {
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "PERCENT", "percent_off": 10},
                "validation_rules": rules,
            },
        )
        effects[code] = voucher["discount"]["effect"]
    assert effects == {
        "ITEMS": "APPLY_TO_ITEMS",
        "ORDER": "APPLY_TO_ORDER",
        "NONE": "APPLY_TO_ORDER",
    }
    # An effect sent is kept.
    kept = _post(
        client,
        "/v1/vouchers/KEPT",
        {
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ORDER"},
            "validation_rules": [rule["id"]],
        },
    )
    assert kept["discount"]["effect"] == "APPLY_TO_ORDER"


def test_a_campaign_rule_binds_its_vouchers_and_tier_rules_their_tier(client: AppClient) -> None:
    rule = _post(client, "/v1/validation-rules", BIG_CART)
    campaign = _post(
        client,
        "/v1/campaigns",
        {
            "name": "Spring",
            "campaign_type": "DISCOUNT_COUPONS",
            "voucher": {
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "AMOUNT", "amount_off": 100},
            },
            "vouchers_count": 1,
            "validation_rules": [rule["id"]],
        },
    )
    assigned = client.get("/v1/validation-rules-assignments", params={"rule": rule["id"]}).json()
    assert [(a["related_object_type"], a["related_object_id"]) for a in assigned["data"]] == [
        ("campaign", campaign["id"])
    ]
    added = _post(client, f"/v1/campaigns/{campaign['id']}/vouchers/SPRING-1", {})
    assert not _valid(client, {"object": "voucher", "id": added["code"]}, 5000)
    assert _valid(client, {"object": "voucher", "id": added["code"]}, 20000)
    two = client.post(
        "/v1/campaigns",
        json={
            "name": "Two rules",
            "campaign_type": "DISCOUNT_COUPONS",
            "voucher": {
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "AMOUNT", "amount_off": 100},
            },
            "validation_rules": [rule["id"], rule["id"]],
        },
    )
    assert two.status_code == 400  # a campaign takes one rule

    tier = {
        "name": "5 off big carts",
        "action": {"discount": {"type": "AMOUNT", "amount_off": 500}},
        "validation_rules": [rule["id"]],
    }
    promotion = _post(
        client,
        "/v1/campaigns",
        {"name": "Promo", "campaign_type": "PROMOTION", "promotion": {"tiers": [tier]}},
    )
    made = promotion["promotion"]["tiers"][0]
    assert made["validation_rule_assignments"]["total"] == 1
    assert_matches(promotion, file="campaigns", schema="CampaignsCreateResponseBody")
    fetched = client.get(f"/v1/promotions/tiers/{made['id']}").json()
    assert fetched["validation_rule_assignments"]["data"][0]["rule_id"] == rule["id"]
    listed = client.get(f"/v1/promotions/{promotion['id']}/tiers").json()
    assert listed["tiers"][0]["validation_rule_assignments"]["total"] == 1
    assert not _valid(client, {"object": "promotion_tier", "id": made["id"]}, 5000)
    assert _valid(client, {"object": "promotion_tier", "id": made["id"]}, 20000)
    later = _post(client, f"/v1/promotions/{promotion['id']}/tiers", {**tier, "name": "later"})
    assert later["validation_rule_assignments"]["total"] == 1


def test_a_promotion_campaign_rule_binds_its_tiers(client: AppClient) -> None:
    rule = _post(client, "/v1/validation-rules", BIG_CART)
    mugs = _post(client, "/v1/validation-rules", MUGS_ONLY)
    tier = {"name": "5 off", "action": {"discount": {"type": "AMOUNT", "amount_off": 500}}}
    promotion = _post(
        client,
        "/v1/campaigns",
        {
            "name": "Ruled promo",
            "campaign_type": "PROMOTION",
            "validation_rules": [rule["id"]],
            "promotion": {"tiers": [tier]},
        },
    )
    assert promotion["validation_rules_assignments"]["data"][0]["rule_id"] == rule["id"]
    fetched = client.get(f"/v1/campaigns/{promotion['id']}").json()
    assert fetched["validation_rules_assignments"]["total"] == 1
    made = promotion["promotion"]["tiers"][0]
    assert made["validation_rule_assignments"]["total"] == 0  # the rule is the campaign's
    assert not _valid(client, {"object": "promotion_tier", "id": made["id"]}, 5000)
    assert _valid(client, {"object": "promotion_tier", "id": made["id"]}, 20000)
    # A tier added to a campaign whose rule names products gets an item effect.
    targeted = _post(
        client,
        "/v1/campaigns",
        {"name": "Mug promo", "campaign_type": "PROMOTION", "validation_rules": [mugs["id"]]},
    )
    later = _post(client, f"/v1/promotions/{targeted['id']}/tiers", tier)
    assert later["action"]["discount"]["effect"] == "APPLY_TO_ITEMS"
