"""UNIT discounts through the API: the worked example of give-item-for-free-unit-discount.mdx
validated and redeemed with its exact numbers, a free product the cart lacks added as a
line, and a rollback that takes the added units away again."""

from typing import Any

from support.inprocess import AppClient
from support.spec import assert_matches

from .test_redemptions_api import order_of, redeem, voucher, vouchers
from .test_rollbacks_api import rollback


def product(client: AppClient, source_id: str, name: str, price: int | None) -> str:
    body: dict[str, Any] = {"source_id": source_id, "name": name}
    if price is not None:
        body["price"] = price
    response = client.post("/v1/products", json=body)
    assert response.status_code == 200, response.text
    product_id: str = response.json()["id"]
    return product_id


def test_add_many_items_worked_example(client: AppClient) -> None:
    red = product(client, "red", "Red T-Shirt", 2900)
    blue = product(client, "blue", "Blue T-Shirt", 3100)
    created = voucher(
        client,
        "FREESHIRTS",
        {
            "type": "UNIT",
            "effect": "ADD_MANY_ITEMS",
            "units": [
                {"unit_off": 1.0, "unit_type": red, "effect": "ADD_MISSING_ITEMS"},
                {"unit_off": 1, "unit_type": blue, "effect": "ADD_NEW_ITEMS"},
            ],
        },
    )
    units = created["discount"]["units"]
    assert [u["product"]["name"] for u in units] == ["Red T-Shirt", "Blue T-Shirt"]
    assert units[0]["unit_off"] == 1
    order = {
        "amount": 6000,
        "items": [
            {"product_id": red, "quantity": "1", "price": 2900},
            {"product_id": blue, "quantity": "1", "price": 3100},
        ],
    }
    validated = client.post("/v1/vouchers/FREESHIRTS/validate", json={"order": order}).json()
    assert_matches(validated, file="validations", schema="VouchersValidateValidResponseBody")
    result = redeem(client, {"redeemables": vouchers("FREESHIRTS"), "order": order})
    for shown in (validated["order"], result["order"]):
        assert shown["amount"] == 9100
        assert shown["initial_amount"] == 6000
        assert shown["items_discount_amount"] == 6000
        assert shown["total_discount_amount"] == 6000
        assert shown["total_amount"] == 3100
        assert shown["items_applied_discount_amount"] == 6000
        first, second = shown["items"]
        assert (first["quantity"], first["discount_quantity"], first["initial_quantity"]) == (
            1,
            1,
            1,
        )
        assert (first["amount"], first["discount_amount"], first["subtotal_amount"]) == (
            2900,
            2900,
            0,
        )
        assert (second["quantity"], second["discount_quantity"], second["initial_quantity"]) == (
            2,
            1,
            1,
        )
        assert (second["amount"], second["discount_amount"], second["initial_amount"]) == (
            6200,
            3100,
            3100,
        )
        assert second["subtotal_amount"] == 3100
        assert (second["applied_quantity"], second["applied_quantity_amount"]) == (1, 3100)
        assert "applied_quantity" not in first

    stored = order_of(client, result["order"]["id"])
    assert (stored["amount"], stored["total_amount"]) == (9100, 3100)
    lone = result["redemptions"][0]["id"]
    back = rollback(client, f"/v1/redemptions/{lone}/rollback")["order"]
    assert (back["amount"], back["items_discount_amount"], back["total_amount"]) == (
        6000,
        0,
        6000,
    )
    assert [i["quantity"] for i in back["items"]] == [1, 1]
    assert [i.get("discount_quantity", 0) for i in back["items"]] == [0, 0]


def test_a_free_product_the_cart_lacks_is_added_and_rolled_back(client: AppClient) -> None:
    tee = product(client, "tee", "T-shirt", 2500)
    shipping = product(client, "ship", "Shipping", None)
    voucher(
        client,
        "FREETEE",
        {"type": "UNIT", "unit_off": 2, "unit_type": tee, "effect": "ADD_MISSING_ITEMS"},
    )
    voucher(client, "FREESHIP", {"type": "UNIT", "unit_off": 1, "unit_type": shipping})
    voucher(client, "TENPCT", {"type": "PERCENT", "percent_off": 10})
    result = redeem(
        client,
        {
            "redeemables": vouchers("FREETEE", "FREESHIP", "TENPCT"),
            "order": {"items": [{"source_id": "mug", "price": 1000, "quantity": 1}]},
        },
    )
    order = result["order"]
    mug, tees, ship = order["items"]
    assert (tees["product_id"], tees["quantity"], tees["initial_quantity"]) == (tee, 2, 0)
    assert (tees["amount"], tees["discount_amount"], tees["initial_amount"]) == (5000, 5000, 0)
    assert tees["product"]["name"] == "T-shirt"
    assert (ship["product_id"], ship["quantity"], ship["discount_quantity"]) == (shipping, 1, 1)
    assert ship["discount_amount"] == 0  # a product without a price is free of nothing
    assert order["amount"] == 6000
    assert order["discount_amount"] == 100  # 10 % of what is left: 1000
    assert order["total_amount"] == 900
    # The default effect is printed.
    child = result["redemptions"][1]
    assert child["voucher"]["discount"]["effect"] == "ADD_MISSING_ITEMS"

    parent_id = result["parent_redemption"]["id"]
    back = rollback(client, f"/v1/redemptions/{parent_id}/rollbacks")["order"]
    assert [i["source_id"] for i in back["items"]] == ["mug"]
    assert (back["amount"], back["total_amount"], back["discount_amount"]) == (1000, 1000, 0)
    assert back["items"][0]["id"] == mug["id"]


def test_a_unit_discount_names_a_product_that_exists(client: AppClient) -> None:
    response = client.post(
        "/v1/vouchers/NOPRODUCT",
        json={
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "UNIT", "unit_off": 1, "unit_type": "prod_missing"},
        },
    )
    assert response.status_code == 404
    assert (response.json()["resource_type"], response.json()["resource_id"]) == (
        "product",
        "prod_missing",
    )
    assert client.get("/v1/vouchers/NOPRODUCT").status_code == 404
