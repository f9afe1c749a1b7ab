"""applicable_to: which order lines a discount may touch (BEHAVIOR 11.5, 11.6), on both
engines: entries completed from the catalogue, unbuilt parts refused by name, and item
discounts that reach only the lines (and units) the rule allows, in validations and in
redemptions."""

from typing import Any

from support.inprocess import AppClient
from support.spec import assert_matches

LINES = [
    {"source_id": "mug", "related_object": "product", "price": 1000, "quantity": 3},
    {"source_id": "cap", "related_object": "product", "price": 2000, "quantity": 4},
    {"source_id": "tee", "related_object": "product", "price": 2000, "quantity": 1},
    {"source_id": "pen", "related_object": "product", "price": 1500, "quantity": 2},
]


def _post(client: AppClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def _products(client: AppClient) -> dict[str, dict[str, Any]]:
    made = {}
    for line in LINES:
        source_id = line["source_id"]
        made[source_id] = _post(
            client,
            "/v1/products",
            {"source_id": source_id, "name": source_id, "price": line["price"]},
        )
    return made


def _ruled_voucher(
    client: AppClient, code: str, discount: dict[str, Any], applicable_to: dict[str, Any]
) -> dict[str, Any]:
    _post(client, f"/v1/vouchers/{code}", {"type": "DISCOUNT_VOUCHER", "discount": discount})
    rule = _post(client, "/v1/validation-rules", {"name": code, "applicable_to": applicable_to})
    assert_matches(rule, "validation-rules", "ValidationRule")
    _post(client, f"/v1/validation-rules/{rule['id']}/assignments", {"voucher": code})
    return rule


def _validate(client: AppClient, code: str) -> dict[str, Any]:
    body = {"redeemables": [{"object": "voucher", "id": code}], "order": {"items": LINES}}
    result = _post(client, "/v1/validations", body)
    assert result["valid"], result
    redeemable: dict[str, Any] = result["redeemables"][0]
    return redeemable


def _line_discounts(order: dict[str, Any]) -> list[int]:
    return [item.get("discount_amount", 0) for item in order["items"]]


def test_entries_are_completed_from_the_catalogue_and_printed_back(client: AppClient) -> None:
    products = _products(client)
    sku = _post(
        client,
        f"/v1/products/{products['tee']['id']}/skus",
        {"source_id": "tee-red", "price": 2100},
    )
    rule = _post(
        client,
        "/v1/validation-rules",
        {
            "name": "branded",
            "applicable_to": {
                "included": [
                    {"object": "product", "source_id": "mug", "effect": "APPLY_TO_EVERY"},
                    {"object": "sku", "id": sku["id"], "quantity_limit": 2},
                    {"object": "product", "source_id": "not-yet-sold"},
                ],
                "excluded": [{"object": "product", "id": products["pen"]["id"]}],
            },
        },
    )
    assert rule["applicable_to"] == {
        "included": [
            {
                "object": "product",
                "id": products["mug"]["id"],
                "source_id": "mug",
                "strict": False,
                "effect": "APPLY_TO_EVERY",
            },
            {
                "object": "sku",
                "id": sku["id"],
                "source_id": "tee-red",
                "product_id": products["tee"]["id"],
                "product_source_id": "tee",
                "strict": False,
                "effect": "APPLY_TO_EVERY",
                "quantity_limit": 2,
            },
            {
                "object": "product",
                "source_id": "not-yet-sold",
                "strict": False,
                "effect": "APPLY_TO_EVERY",
            },
        ],
        "excluded": [
            {
                "object": "product",
                "id": products["pen"]["id"],
                "source_id": "pen",
                "strict": False,
                "effect": "APPLY_TO_EVERY",
            }
        ],
        "included_all": False,
    }
    assert (
        client.get(f"/v1/validation-rules/{rule['id']}").json()["applicable_to"]
        == rule["applicable_to"]
    )
    cleared = client.put(f"/v1/validation-rules/{rule['id']}", json={"applicable_to": {}})
    assert cleared.json()["applicable_to"] == {
        "excluded": [],
        "included": [],
        "included_all": False,
    }


def test_unknown_items_and_unbuilt_parts_are_refused_by_name(client: AppClient) -> None:
    missing = client.post(
        "/v1/validation-rules",
        json={
            "name": "x",
            "applicable_to": {"included": [{"object": "product", "id": "prod_nope"}]},
        },
    )
    assert (missing.status_code, missing.json()["resource_id"]) == (404, "prod_nope")
    cases = [
        ({"object": "products_collection", "id": "pc_1"}, "products collections"),
        ({"object": "product", "id": "prod_1", "effect": "APPLY_TO_CHEAPEST"}, "APPLY_TO_CHEAPEST"),
        ({"object": "product", "id": "prod_1", "price": 100}, ".price"),
        ({"object": "product", "id": "prod_1", "repeat": 3}, ".repeat"),
        ({"object": "product"}, "an id or a source_id"),
        ({"object": "product", "id": "prod_1", "quantity_limit": -1}, "quantity_limit"),
    ]
    for entry, says in cases:
        response = client.post(
            "/v1/validation-rules", json={"name": "x", "applicable_to": {"excluded": [entry]}}
        )
        assert response.status_code == 400, (entry, response.text)
        assert says in response.json()["details"], (says, response.json())
    assert client.get("/v1/validation-rules").json()["total"] == 0


def test_item_discounts_reach_only_the_included_lines(client: AppClient) -> None:
    products = _products(client)
    rule = _ruled_voucher(
        client,
        "MUGS",
        {"type": "AMOUNT", "amount_off": 500, "effect": "APPLY_TO_ITEMS"},
        {
            "included": [
                {"object": "product", "source_id": "mug"},
                {"object": "product", "source_id": "tee"},
            ]
        },
    )
    redeemable = _validate(client, "MUGS")
    assert _line_discounts(redeemable["order"]) == [500, 0, 500, 0]
    assert redeemable["applicable_to"]["total"] == 2
    assert redeemable["applicable_to"]["data"] == rule["applicable_to"]["included"]
    assert redeemable["inapplicable_to"]["total"] == 0
    assert redeemable["applicable_to"]["data"][0]["id"] == products["mug"]["id"]


def test_excluded_wins_and_included_all_reaches_the_rest(client: AppClient) -> None:
    _products(client)
    _ruled_voucher(
        client,
        "NOPEN",
        {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ITEMS"},
        {
            "included_all": True,
            "included": [{"object": "product", "source_id": "cap", "amount_limit": 300}],
            "excluded": [
                {"object": "product", "source_id": "pen"},
                {"object": "product", "source_id": "mug"},
            ],
        },
    )
    redeemable = _validate(client, "NOPEN")
    # cap: 10% of 8000 capped at 300; tee: 10% of 2000; mug and pen excluded.
    assert _line_discounts(redeemable["order"]) == [0, 300, 200, 0]
    assert [e["source_id"] for e in redeemable["inapplicable_to"]["data"]] == ["pen", "mug"]


def test_unit_caps_follow_the_discount_effects_page(client: AppClient) -> None:
    """extra/discount-effects.mdx, each unit of matched product: $5 a unit; one product at
    most 1 unit a line and 1 in all, the other at most 2 a line and 3 in all."""
    _products(client)
    _ruled_voucher(
        client,
        "UNITS",
        {"type": "AMOUNT", "amount_off": 500, "effect": "APPLY_TO_ITEMS_BY_QUANTITY"},
        {
            "included": [
                {
                    "object": "product",
                    "source_id": "mug",
                    "quantity_limit": 1,
                    "aggregated_quantity_limit": 1,
                },
                {
                    "object": "product",
                    "source_id": "cap",
                    "quantity_limit": 2,
                    "aggregated_quantity_limit": 3,
                },
            ]
        },
    )
    redeemable = _validate(client, "UNITS")
    assert _line_discounts(redeemable["order"]) == [500, 1000, 0, 0]
    # The redemption discounts the same lines and writes them on the order.
    body = {"redeemables": [{"object": "voucher", "id": "UNITS"}], "order": {"items": LINES}}
    redeemed = _post(client, "/v1/redemptions", body)
    assert _line_discounts(redeemed["order"]) == [500, 1000, 0, 0]
    assert redeemed["order"]["items_discount_amount"] == 1500
    stored = client.get(f"/v1/orders/{redeemed['order']['id']}").json()
    assert _line_discounts(stored) == [500, 1000, 0, 0]


def test_a_rule_without_applicable_to_leaves_every_line_reachable(client: AppClient) -> None:
    _products(client)
    _post(
        client,
        "/v1/vouchers/ALL",
        {
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "AMOUNT", "amount_off": 100, "effect": "APPLY_TO_ITEMS"},
        },
    )
    rule = _post(
        client,
        "/v1/validation-rules",
        {
            "name": "any cart",
            "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [0]}}},
        },
    )
    _post(client, f"/v1/validation-rules/{rule['id']}/assignments", {"voucher": "ALL"})
    redeemable = _validate(client, "ALL")
    assert _line_discounts(redeemable["order"]) == [100, 100, 100, 100]
    assert redeemable["applicable_to"]["total"] == 0


def test_a_source_id_is_read_as_a_source_id_even_when_it_looks_like_an_id(
    client: AppClient,
) -> None:
    products = _products(client)
    rule = _post(
        client,
        "/v1/validation-rules",
        {
            "name": "by source",
            "applicable_to": {
                "included": [{"object": "product", "source_id": products["mug"]["id"]}]
            },
        },
    )
    # No product has the mug's id as its source_id: kept as sent, not resolved to the mug.
    assert rule["applicable_to"]["included"][0] == {
        "object": "product",
        "source_id": products["mug"]["id"],
        "strict": False,
        "effect": "APPLY_TO_EVERY",
    }
