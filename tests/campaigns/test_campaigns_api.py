"""Campaigns of discount vouchers: create with codes, get by id or name, add a voucher with
a code; the vouchers follow the campaign's template; responses checked against
campaigns.json and vouchers.json."""

import re
from typing import Any

import pytest
import sqlalchemy as sa

from support.db import snapshot
from support.inprocess import AppClient
from support.spec import assert_matches

TEMPLATE = {
    "type": "DISCOUNT_VOUCHER",
    "discount": {"type": "PERCENT", "percent_off": 20, "effect": "APPLY_TO_ORDER"},
    "redemption": {"quantity": 5},
    "code_config": {"pattern": "SUMMER-####", "charset": "0123456789"},
}


def campaign(client: AppClient, name: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "campaign_type": "DISCOUNT_COUPONS", "voucher": TEMPLATE, **fields}
    response = client.post("/v1/campaigns", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    assert_matches(created, file="campaigns", schema="CampaignsCreateResponseBody")
    return created


def codes_of(client: AppClient, campaign_id: str) -> list[str]:
    with client.db.transaction(write=False) as conn:
        rows = conn.execute(
            sa.text("SELECT code FROM vouchers WHERE campaign_id = :c ORDER BY code"),
            {"c": campaign_id},
        )
        return [row[0] for row in rows]


def test_create_a_campaign_with_codes_and_read_it_back(client: AppClient) -> None:
    created = campaign(
        client, "Summer", vouchers_count=3, metadata={"season": "summer"}, type="STATIC"
    )
    assert re.fullmatch(r"camp_[A-Za-z0-9]{24}", created["id"])
    assert created["vouchers_count"] == 3
    assert created["voucher"]["code_config"] == {
        "length": 4,
        "charset": "0123456789",
        "pattern": "SUMMER-####",
    }
    assert created["voucher"]["redemption"] == {"quantity": 5}
    assert created["type"] == "STATIC" and created["object"] == "campaign"
    codes = codes_of(client, created["id"])
    assert len(codes) == 3 and all(re.fullmatch(r"SUMMER-\d{4}", c) for c in codes)
    for ref in (created["id"], "Summer"):
        fetched = client.get(f"/v1/campaigns/{ref}")
        assert fetched.status_code == 200
        assert fetched.json() == created
        assert_matches(fetched.json(), file="campaigns", schema="CampaignsGetResponseBody")
    voucher = client.get(f"/v1/vouchers/{codes[0]}").json()
    assert voucher["campaign"] == "Summer" and voucher["campaign_id"] == created["id"]
    assert voucher["discount"]["percent_off"] == 20
    assert voucher["redemption"]["quantity"] == 5
    assert_matches(voucher, file="vouchers", schema="VouchersGetResponseBody")


def test_add_a_voucher_with_a_code(client: AppClient) -> None:
    created = campaign(client, "Autumn", expiration_date="2030-01-01T00:00:00Z")
    response = client.post(
        "/v1/campaigns/Autumn/vouchers/AUTUMN-VIP",
        json={"metadata": {"vip": True}, "redemption": {"quantity": 1}},
    )
    assert response.status_code == 200, response.text
    voucher = response.json()
    assert_matches(voucher, file="campaigns", schema="CampaignsVouchersCreateResponseBody")
    assert voucher["code"] == "AUTUMN-VIP" and voucher["campaign_id"] == created["id"]
    assert voucher["metadata"] == {"vip": True}
    assert voucher["redemption"]["quantity"] == 1
    assert voucher["expiration_date"] == "2030-01-01T00:00:00.000Z"  # from the campaign
    plain = client.post(f"/v1/campaigns/{created['id']}/vouchers/AUTUMN-2")
    assert plain.status_code == 200 and plain.json()["redemption"]["quantity"] == 5
    assert client.get("/v1/campaigns/Autumn").json()["vouchers_count"] == 2
    taken = client.post("/v1/campaigns/Autumn/vouchers/AUTUMN-VIP")
    assert taken.status_code == 409 and taken.json()["key"] == "duplicate_found"
    missing = client.post("/v1/campaigns/Nope/vouchers/X")
    assert missing.status_code == 404 and missing.json()["resource_type"] == "campaign"


def test_campaign_vouchers_validate_with_the_campaign_discount(client: AppClient) -> None:
    campaign(client, "Winter")
    client.post("/v1/campaigns/Winter/vouchers/WINTER-1")
    result = client.post(
        "/v1/validations",
        json={"redeemables": [{"object": "voucher", "id": "WINTER-1"}], "order": {"amount": 1000}},
    ).json()
    assert result["valid"] is True
    assert result["order"]["applied_discount_amount"] == 200
    campaign(client, "Past", expiration_date="2020-01-01T00:00:00Z")
    client.post("/v1/campaigns/Past/vouchers/PAST-1")
    old = client.post(
        "/v1/validations",
        json={"redeemables": [{"object": "voucher", "id": "PAST-1"}], "order": {"amount": 1000}},
    ).json()
    assert old["redeemables"][0]["result"]["error"]["key"] == "voucher_expired"


def test_names_are_unique_per_project(client: AppClient) -> None:
    campaign(client, "Spring")
    again = client.post(
        "/v1/campaigns",
        json={"name": "Spring", "campaign_type": "DISCOUNT_COUPONS", "voucher": TEMPLATE},
    )
    assert again.status_code == 409 and again.json()["resource_type"] == "campaign"
    other = client.as_project(client.new_project("other"))
    body = {"name": "Spring", "campaign_type": "DISCOUNT_COUPONS", "voucher": TEMPLATE}
    assert other.post("/v1/campaigns", json=body).status_code == 200
    assert (
        other.get("/v1/campaigns/Spring").json()["id"]
        != client.get("/v1/campaigns/Spring").json()["id"]
    )
    assert client.get("/v1/campaigns/Nothing").status_code == 404


BASE = {"name": "Bad", "campaign_type": "DISCOUNT_COUPONS", "voucher": TEMPLATE}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({**BASE, "campaign_type": "PROMOTION"}, "not vouchers"),
        ({**BASE, "campaign_type": "LOYALTY_PROGRAM"}, "LOYALTY_PROGRAM"),
        ({"name": "Bad", "campaign_type": "DISCOUNT_COUPONS"}, "voucher"),
        ({**BASE, "name": ""}, "name"),
        ({**BASE, "category": "Seasonal"}, "categories"),
        ({**BASE, "validation_rules": ["val_1", "val_2"]}, "validation_rules"),
        ({**BASE, "vouchers_count": 1001}, "vouchers_count"),
        ({**BASE, "vouchers_count": -1}, "vouchers_count"),
        ({**BASE, "voucher": {**TEMPLATE, "discount": {"type": "UNIT"}}}, "unit_type"),
        (
            {**BASE, "voucher": {**TEMPLATE, "code_config": {"pattern": "X"}}},
            ".voucher.code_config.pattern",
        ),
        (
            {
                **BASE,
                "vouchers_count": 3,
                "voucher": {**TEMPLATE, "code_config": {"pattern": "#", "charset": "A"}},
            },
            "too few codes",
        ),
    ],
)
def test_bad_campaigns_are_refused_and_write_nothing(
    client: AppClient, body: dict[str, Any], needle: str
) -> None:
    before = snapshot(client.db)
    response = client.post("/v1/campaigns", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["key"] == "invalid_payload"
    assert needle in response.json()["details"], response.json()
    assert snapshot(client.db) == before
