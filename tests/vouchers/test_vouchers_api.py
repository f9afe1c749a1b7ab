"""Discount vouchers: create with a code or a generated one, get by code, refuse what is
not built yet, isolation between projects; every response checked against vouchers.json."""

import re
from typing import Any

import pytest

from support.db import snapshot
from support.inprocess import AppClient
from support.spec import assert_matches

PERCENT = {"type": "PERCENT", "percent_off": 12.5, "amount_limit": 2000}


def voucher(client: AppClient, code: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/v1/vouchers/{code}", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    assert_matches(created, file="vouchers", schema="VouchersCreateResponseBody")
    return created


def test_create_and_get_a_discount_voucher(client: AppClient) -> None:
    created = voucher(
        client,
        "WELCOME-10",
        {
            "type": "DISCOUNT_VOUCHER",
            "discount": PERCENT,
            "start_date": "2026-01-01T00:00:00Z",
            "expiration_date": "2026-12-31T23:59:59.000+01:00",
            "validity_timeframe": {"interval": "P2D", "duration": "PT1H"},
            "validity_day_of_week": [1, 2, 3, 4, 5],
            "validity_hours": {
                "daily": [
                    {"start_time": "09:00", "expiration_time": "17:30", "days_of_week": [1, 2]}
                ]
            },
            "additional_info": "for new customers",
            "metadata": {"channel": "newsletter"},
            "redemption": {"quantity": 100},
        },
    )
    assert re.fullmatch(r"v_[A-Za-z0-9]{32}", created["id"])
    assert created["code"] == "WELCOME-10" and created["object"] == "voucher"
    assert created["discount"] == {
        "type": "PERCENT",
        "percent_off": 12.5,
        "amount_limit": 2000,
        "effect": "APPLY_TO_ORDER",
        "is_dynamic": False,
    }
    assert created["expiration_date"] == "2026-12-31T22:59:59.000Z"
    assert created["active"] is True
    assert created["redemption"]["quantity"] == 100
    assert created["redemption"]["redeemed_quantity"] == 0
    assert "campaign" not in created and created["categories"] == []
    fetched = client.get("/v1/vouchers/WELCOME-10")
    assert fetched.status_code == 200
    assert fetched.json() == created
    assert_matches(fetched.json(), file="vouchers", schema="VouchersGetResponseBody")


@pytest.mark.parametrize(
    ("discount", "printed"),
    [
        (
            {"type": "AMOUNT", "amount_off": 1000.4, "effect": "APPLY_TO_ITEMS_PROPORTIONALLY"},
            {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ITEMS_PROPORTIONALLY"},
        ),
        (
            {"type": "AMOUNT", "amount_off": 500, "aggregated_amount_limit": 1500},
            {"type": "AMOUNT", "amount_off": 500, "aggregated_amount_limit": 1500},
        ),
        (
            {"type": "FIXED", "fixed_amount": 990, "effect": "APPLY_TO_ITEMS"},
            {"type": "FIXED", "fixed_amount": 990, "effect": "APPLY_TO_ITEMS"},
        ),
        ({"type": "PERCENT", "percent_off": 10}, {"type": "PERCENT", "percent_off": 10}),
    ],
    ids=["amount-proportional", "amount-limit", "fixed-items", "percent-whole"],
)
def test_discount_kinds(
    client: AppClient, discount: dict[str, Any], printed: dict[str, Any]
) -> None:
    created = voucher(client, "CODE", {"type": "DISCOUNT_VOUCHER", "discount": discount})
    expected = {"effect": "APPLY_TO_ORDER", **printed, "is_dynamic": False}
    assert created["discount"] == expected


def test_codes_are_unique_per_project_and_case_sensitive(client: AppClient) -> None:
    body = {"type": "DISCOUNT_VOUCHER", "discount": PERCENT}
    voucher(client, "Summer", body)
    voucher(client, "summer", body)
    again = client.post("/v1/vouchers/Summer", json=body)
    assert again.status_code == 409
    assert again.json()["key"] == "duplicate_found"
    assert again.json()["resource_id"] == "Summer"
    # Another project may use the same code, and does not see this one.
    other = client.new_project("other")
    theirs = client.as_project(other)
    assert theirs.post("/v1/vouchers/Summer", json=body).status_code == 200
    assert theirs.get("/v1/vouchers/summer").status_code == 404
    assert (
        client.get("/v1/vouchers/Summer").json()["id"]
        != (theirs.get("/v1/vouchers/Summer").json()["id"])
    )


def test_generated_codes_follow_the_code_config(client: AppClient) -> None:
    body = {"type": "DISCOUNT_VOUCHER", "discount": PERCENT}
    plain = client.post("/v1/vouchers", json=body)
    assert plain.status_code == 200, plain.text
    assert re.fullmatch(r"[A-Za-z0-9]{8}", plain.json()["code"])
    assert_matches(plain.json(), file="vouchers", schema="VouchersCreateResponseBody")
    shaped = client.post(
        "/v1/vouchers",
        json={**body, "code_config": {"pattern": "SALE-##-##", "charset": "0123456789"}},
    ).json()
    assert re.fullmatch(r"SALE-\d\d-\d\d", shaped["code"])
    sized = client.post(
        "/v1/vouchers",
        json={**body, "code_config": {"length": 12, "prefix": "A-", "postfix": "-Z"}},
    ).json()
    assert re.fullmatch(r"A-[A-Za-z0-9]{12}-Z", sized["code"])
    given = client.post("/v1/vouchers", json={**body, "code": "GIVEN"}).json()
    assert given["code"] == "GIVEN"
    assert client.get("/v1/vouchers/GIVEN").status_code == 200


def test_a_code_config_with_no_codes_left_is_refused(client: AppClient) -> None:
    body = {"type": "DISCOUNT_VOUCHER", "discount": PERCENT}
    config = {"code_config": {"pattern": "ONE-#", "charset": "7"}}
    assert client.post("/v1/vouchers", json={**body, **config}).status_code == 200
    before = snapshot(client.db)
    again = client.post("/v1/vouchers", json={**body, **config})
    assert again.status_code == 400 and again.json()["key"] == "invalid_payload"
    assert "code_config" in again.json()["details"]
    assert snapshot(client.db) == before


def test_unknown_code_is_404(client: AppClient) -> None:
    response = client.get("/v1/vouchers/NOPE")
    assert response.status_code == 404
    assert response.json()["details"] == "Cannot find voucher with id NOPE"
    assert response.json()["resource_type"] == "voucher"


DISCOUNT = {"type": "DISCOUNT_VOUCHER", "discount": PERCENT}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"discount": PERCENT}, "type"),
        ({"type": "DISCOUNT_VOUCHER"}, "discount"),
        ({"type": "GIFT_VOUCHER", "gift": {"amount": 1000}}, "GIFT_VOUCHER"),
        ({"type": "DISCOUNT_VOUCHER", "discount": {"type": "UNIT", "unit_off": 1}}, "unit_type"),
        (
            {
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "UNIT", "unit_off": 0, "unit_type": "p"},
            },
            "unit_off",
        ),
        ({"type": "DISCOUNT_VOUCHER", "discount": {"type": "BOGUS"}}, "discount"),
        (
            {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 101}},
            "percent_off",
        ),
        (
            {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": -5}},
            "amount_off",
        ),
        (
            {
                "type": "DISCOUNT_VOUCHER",
                "discount": {
                    "type": "PERCENT",
                    "percent_off": 5,
                    "effect": "APPLY_TO_ITEMS_BY_QUANTITY",
                },
            },
            "effect",
        ),
        (
            {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off_formula": "x"}},
            "formula",
        ),
        ({**DISCOUNT, "campaign": "Summer"}, "/v1/campaigns/{campaignId}/vouchers/{code}"),
        ({**DISCOUNT, "category": "New"}, "categories"),
        ({**DISCOUNT, "validation_rules": ["val_1"] * 11}, "validation_rules"),
        (
            {
                **DISCOUNT,
                "start_date": "2026-02-01T00:00:00Z",
                "expiration_date": "2026-01-01T00:00:00Z",
            },
            "expiration_date",
        ),
        (
            {**DISCOUNT, "validity_timeframe": {"interval": "2 days", "duration": "PT1H"}},
            "interval",
        ),
        ({**DISCOUNT, "validity_day_of_week": [7]}, "validity_day_of_week"),
        (
            {
                **DISCOUNT,
                "validity_hours": {"daily": [{"start_time": "25:00", "expiration_time": "10:00"}]},
            },
            "start_time",
        ),
        ({**DISCOUNT, "redemption": {"quantity": 0}}, "quantity"),
        ({**DISCOUNT, "metadata": [1]}, "metadata"),
        # Before year 1 and after 9999 once in UTC (were 500s).
        ({**DISCOUNT, "start_date": "0001-01-01T00:30:00+01:00"}, "start_date"),
        ({**DISCOUNT, "expiration_date": "9999-12-31T23:00:00-05:00"}, "expiration_date"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    client: AppClient, body: dict[str, Any], needle: str
) -> None:
    before = snapshot(client.db)
    response = client.post("/v1/vouchers/BAD", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["key"] == "invalid_payload"
    assert needle in error["details"] or needle in error["message"], error
    assert error["request_id"].startswith("v-")
    assert snapshot(client.db) == before


def test_bad_code_configs(client: AppClient) -> None:
    for config, needle in (
        ({"pattern": "NOHASH"}, "pattern"),
        ({"length": 0}, "length"),
        ({"charset": ""}, "charset"),
        ({"prefix": "x" * 250, "length": 10}, "longer"),
    ):
        response = client.post("/v1/vouchers", json={**DISCOUNT, "code_config": config})
        assert response.status_code == 400, (config, response.text)
        assert needle in response.json()["details"], (config, response.json())
