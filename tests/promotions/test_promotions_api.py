"""Promotion campaigns and tiers: created with the campaign or added later, read one, list a
campaign's; tiers validate like vouchers under their campaign's dates; responses checked
against promotions.json and campaigns.json."""

from typing import Any

from support.db import snapshot
from support.inprocess import AppClient
from support.spec import assert_matches

FORTY = {"name": "40 % off", "action": {"discount": {"type": "PERCENT", "percent_off": 40}}}
THIRTY = {"name": "30 off", "action": {"discount": {"type": "AMOUNT", "amount_off": 30}}}


def promotion(client: AppClient, name: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "campaign_type": "PROMOTION", **fields}
    response = client.post("/v1/campaigns", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    assert_matches(created, file="campaigns", schema="CampaignsCreateResponseBody")
    return created


def test_a_promotion_with_tiers(client: AppClient) -> None:
    created = promotion(client, "Black Friday", promotion={"tiers": [FORTY, THIRTY]})
    tiers = created["promotion"]["tiers"]
    assert [t["name"] for t in tiers] == ["40 % off", "30 off"]
    assert [t["hierarchy"] for t in tiers] == [1, 2]
    assert created["promotion"]["total"] == 2 and "voucher" not in created
    first = client.get(f"/v1/promotions/tiers/{tiers[0]['id']}")
    assert first.status_code == 200
    assert_matches(first.json(), file="promotions", schema="PromotionsTiersGetResponseBody")
    assert first.json()["campaign_id"] == created["id"]
    assert first.json()["action"]["discount"]["effect"] == "APPLY_TO_ORDER"
    added = client.post(
        "/v1/promotions/Black Friday/tiers",
        json={"name": "5 off", "action": {"discount": {"type": "AMOUNT", "amount_off": 5}}},
    )
    assert added.status_code == 200, added.text
    assert_matches(added.json(), file="promotions", schema="PromotionsTiersCreateResponseBody")
    assert added.json()["hierarchy"] == 3
    listed = client.get(f"/v1/promotions/{created['id']}/tiers")
    assert_matches(listed.json(), file="promotions", schema="PromotionsTiersListResponseBody")
    assert [t["name"] for t in listed.json()["tiers"]] == ["40 % off", "30 off", "5 off"]
    again = client.get("/v1/campaigns/Black Friday").json()
    assert again["promotion"]["total"] == 3


def test_tiers_validate_like_vouchers(client: AppClient) -> None:
    created = promotion(client, "Stack", promotion={"tiers": [FORTY, THIRTY]})
    forty, thirty = (t["id"] for t in created["promotion"]["tiers"])
    client.post(
        "/v1/vouchers/ITEMS",
        json={
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ITEMS"},
        },
    )
    before = snapshot(client.db)
    result = client.post(
        "/v1/validations",
        json={
            "redeemables": [
                {"object": "voucher", "id": "ITEMS"},
                {"object": "promotion_tier", "id": forty},
                {"object": "promotion_tier", "id": thirty},
            ],
            "order": {
                "items": [
                    {"source_id": "a", "price": 2000, "quantity": 1},
                    {"source_id": "b", "price": 700, "quantity": 1},
                ]
            },
        },
    ).json()
    assert_matches(result, file="validations", schema="ValidationsValidateResponseBody")
    assert snapshot(client.db) == before
    assert result["valid"] is True
    assert [r["object"] for r in result["redeemables"]] == [
        "voucher",
        "promotion_tier",
        "promotion_tier",
    ]
    # BEHAVIOR 5.12 without the cards: 1,000 off each item, 40 % of 1,000, then 30.
    assert result["order"]["discount_amount"] == 430
    assert result["order"]["total_amount"] == 570


def test_inactive_tiers_and_ended_promotions_are_inapplicable(client: AppClient) -> None:
    created = promotion(client, "Quiet", promotion={"tiers": [{**FORTY, "active": False}]})
    ended = promotion(
        client, "Over", expiration_date="2020-01-01T00:00:00Z", promotion={"tiers": [THIRTY]}
    )
    for campaign, key in ((created, "promotion_inactive"), (ended, "promotion_not_active_now")):
        tier = campaign["promotion"]["tiers"][0]["id"]
        result = client.post(
            "/v1/validations",
            json={
                "redeemables": [{"object": "promotion_tier", "id": tier}],
                "order": {"amount": 1000},
            },
        ).json()
        assert result["valid"] is False
        assert result["redeemables"][0]["result"]["error"]["key"] == key
    missing = client.post(
        "/v1/validations",
        json={
            "redeemables": [{"object": "promotion_tier", "id": "promo_x"}],
            "order": {"amount": 1},
        },
    ).json()
    assert missing["redeemables"][0]["result"]["error"]["resource_type"] == "promotion_tier"


def test_tiers_belong_to_promotions_only(client: AppClient) -> None:
    client.post(
        "/v1/campaigns",
        json={
            "name": "Coupons",
            "campaign_type": "DISCOUNT_COUPONS",
            "voucher": {
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "AMOUNT", "amount_off": 5},
            },
        },
    )
    wrong = client.post("/v1/promotions/Coupons/tiers", json=THIRTY)
    assert wrong.status_code == 400 and wrong.json()["key"] == "invalid_campaign_type"
    promotion(client, "Promo")
    no_vouchers = client.post("/v1/campaigns/Promo/vouchers/CODE")
    assert no_vouchers.status_code == 400
    with_voucher = client.post(
        "/v1/campaigns",
        json={
            "name": "Both",
            "campaign_type": "PROMOTION",
            "voucher": {
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "AMOUNT", "amount_off": 5},
            },
        },
    )
    assert with_voucher.status_code == 400 and "tiers" in with_voucher.json()["details"]
    assert client.post("/v1/promotions/Nope/tiers", json=THIRTY).status_code == 404
    assert client.get("/v1/promotions/tiers/promo_nope").status_code == 404
    bad = client.post("/v1/promotions/Promo/tiers", json={"name": "x"})
    assert bad.status_code == 400 and "action" in bad.json()["details"]
