"""The Orders API in-process, on SQLite and PostgreSQL (BEHAVIOR.md sections 4-7)."""

from typing import Any

from support.db import snapshot
from support.inprocess import AppClient
from support.spec import assert_matches

ITEMS = [
    {"source_id": "sku-a", "related_object": "product", "quantity": 2, "price": 1500},
    {"product_id": None, "quantity": 1, "price": 700, "source_id": "sku-b"},
    {"source_id": "sku-c", "amount": 999},
]


def create(client: AppClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/orders", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    assert_matches(data, file="orders", schema="OrdersCreateResponseBody")
    return data


def test_create_computes_every_amount(client: AppClient) -> None:
    order = create(client, {"source_id": "o-1", "items": ITEMS, "metadata": {"channel": "web"}})
    assert order["id"].startswith("ord_") and len(order["id"]) == 28
    assert order["status"] == "CREATED"
    assert order["object"] == "order"
    assert [i["amount"] for i in order["items"]] == [3000, 700, 999]
    assert [i["subtotal_amount"] for i in order["items"]] == [3000, 700, 999]
    assert order["items"][1]["quantity"] == 1
    assert "quantity" not in order["items"][2]
    assert order["amount"] == 4699
    assert order["initial_amount"] == 4699
    assert order["total_amount"] == 4699
    for field in ("discount_amount", "items_discount_amount", "total_discount_amount"):
        assert order[field] == 0
    assert order["metadata"] == {"channel": "web"}
    assert order["redemptions"] == {}
    assert order["customer_id"] is None and order["referrer_id"] is None
    assert order["updated_at"] is None
    assert order["created_at"].endswith("Z") and len(order["created_at"]) == 24
    assert all(i["id"].startswith("ordli_") for i in order["items"])


def test_client_amount_is_kept_even_when_lines_differ(client: AppClient) -> None:
    order = create(client, {"amount": 20050, "items": [{"quantity": 2, "price": 3000}]})
    assert order["amount"] == 20050
    assert order["total_amount"] == 20050
    assert order["items"][0]["amount"] == 6000
    # initial_amount is the value of the lines as sent (BEHAVIOR 5.3).
    assert order["initial_amount"] == 6000
    assert create(client, {"amount": 700})["initial_amount"] == 700


def test_quantity_as_digit_string_is_accepted(client: AppClient) -> None:
    order = create(client, {"items": [{"quantity": "3", "price": 100}]})
    assert order["items"][0]["quantity"] == 3
    assert order["amount"] == 300


def test_empty_order_has_zero_amounts(client: AppClient) -> None:
    order = create(client, {})
    assert order["amount"] == 0 and order["total_amount"] == 0 and order["items"] == []


def test_get_by_id_and_by_source_id(client: AppClient) -> None:
    order = create(client, {"source_id": "merchant-42", "items": ITEMS})
    by_id = client.get(f"/v1/orders/{order['id']}")
    by_source = client.get("/v1/orders/merchant-42")
    assert by_id.status_code == by_source.status_code == 200
    assert by_id.json() == by_source.json() == order
    assert_matches(by_id.json(), file="orders", schema="OrdersGetResponseBody")


def test_source_ids_shaped_like_ids_still_find_their_order(client: AppClient) -> None:
    # A ref is tried as a Tally id only when it has the id prefix; either way a source_id
    # that merely looks like an id is found.
    first = create(client, {"source_id": "ord_not-a-tally-id"})
    second = create(client, {"source_id": "cust_123"})
    assert client.get("/v1/orders/ord_not-a-tally-id").json()["id"] == first["id"]
    assert client.get("/v1/orders/cust_123").json()["id"] == second["id"]
    # The id of one order used as another's source_id: the id wins, as before.
    third = create(client, {"source_id": first["id"]})
    assert client.get(f"/v1/orders/{first['id']}").json()["id"] == first["id"]
    assert client.get(f"/v1/orders/{third['id']}").json()["source_id"] == first["id"]


def test_unknown_order_is_404_with_the_spec_body(client: AppClient) -> None:
    response = client.get("/v1/orders/ord_doesnotexist")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == 404
    assert body["key"] == "not_found"
    assert body["message"] == "Resource not found"
    assert body["details"] == "Cannot find order with id ord_doesnotexist"
    assert body["resource_id"] == "ord_doesnotexist"
    assert body["resource_type"] == "order"
    assert body["request_id"].startswith("v-") and len(body["request_id"]) == 20
    assert response.headers["x-request-id"] == body["request_id"]


def test_upsert_by_source_id_keeps_id_and_created_at(client: AppClient) -> None:
    first = create(client, {"source_id": "up-1", "items": ITEMS, "metadata": {"a": 1}})
    second = create(client, {"source_id": "up-1", "status": "PAID"})
    assert second["id"] == first["id"]
    assert second["created_at"] == first["created_at"]
    assert second["updated_at"] is not None
    assert second["status"] == "PAID"
    # Fields not sent stay as they were.
    assert second["items"] == first["items"]
    assert second["metadata"] == {"a": 1}
    assert second["amount"] == first["amount"]
    assert client.get("/v1/orders").json()["total"] == 1


def test_upsert_by_id_can_set_a_new_source_id(client: AppClient) -> None:
    first = create(client, {"items": ITEMS})
    second = create(client, {"id": first["id"], "source_id": "late-id", "metadata": {"b": 2}})
    assert second["id"] == first["id"]
    assert second["source_id"] == "late-id"
    assert second["metadata"] == {"b": 2}
    assert client.get("/v1/orders/late-id").json()["id"] == first["id"]


def test_upsert_with_unknown_id_is_404(client: AppClient) -> None:
    response = client.post("/v1/orders", json={"id": "ord_nope", "amount": 5})
    assert response.status_code == 404
    assert response.json()["resource_type"] == "order"
    assert client.get("/v1/orders").json()["total"] == 0


def test_upsert_naming_two_different_orders_is_a_conflict(client: AppClient) -> None:
    a = create(client, {"source_id": "a"})
    create(client, {"source_id": "b"})
    response = client.post("/v1/orders", json={"id": a["id"], "source_id": "b"})
    assert response.status_code == 409
    assert response.json()["key"] == "duplicate_found"


def test_update_is_partial(client: AppClient) -> None:
    order = create(client, {"source_id": "p-1", "items": ITEMS, "metadata": {"k": "v"}})
    response = client.put("/v1/orders/p-1", json={"status": "FULFILLED"})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert_matches(updated, file="orders", schema="OrdersUpdateResponseBody")
    assert updated["status"] == "FULFILLED"
    assert updated["items"] == order["items"]
    assert updated["metadata"] == {"k": "v"}
    assert updated["created_at"] == order["created_at"]
    assert updated["updated_at"] is not None


def test_update_items_recomputes_amount(client: AppClient) -> None:
    create(client, {"source_id": "p-2", "amount": 50000, "items": ITEMS})
    updated = client.put("/v1/orders/p-2", json={"items": [{"price": 250, "quantity": 4}]}).json()
    assert updated["amount"] == 1000
    assert updated["total_amount"] == 1000
    only_amount = client.put("/v1/orders/p-2", json={"amount": 1200}).json()
    assert only_amount["amount"] == 1200
    assert only_amount["items"] == updated["items"]


def test_update_unknown_order_is_404(client: AppClient) -> None:
    response = client.put("/v1/orders/missing", json={"status": "PAID"})
    assert response.status_code == 404
    assert response.json()["resource_id"] == "missing"


def test_update_to_a_taken_source_id_is_a_conflict(client: AppClient) -> None:
    create(client, {"source_id": "x-1"})
    create(client, {"source_id": "x-2"})
    response = client.put("/v1/orders/x-1", json={"source_id": "x-2"})
    assert response.status_code == 409


def test_every_status_transition_is_allowed(client: AppClient) -> None:
    create(client, {"source_id": "s"})
    for status in ("PAID", "CANCELED", "CREATED", "FULFILLED", "CANCELED", "PAID"):
        response = client.put("/v1/orders/s", json={"status": status})
        assert response.status_code == 200
        assert response.json()["status"] == status


def test_historical_created_at_is_honoured_only_on_create(client: AppClient) -> None:
    order = create(client, {"source_id": "h", "created_at": "2021-12-22T10:13:06.487Z"})
    assert order["created_at"] == "2021-12-22T10:13:06.487Z"
    again = create(client, {"source_id": "h", "created_at": "2000-01-01T00:00:00Z"})
    assert again["created_at"] == "2021-12-22T10:13:06.487Z"


def _ids(client: AppClient, **params: Any) -> list[str]:
    response = client.get("/v1/orders", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches(body, file="orders", schema="OrdersListResponseBody")
    assert body["object"] == "list" and body["data_ref"] == "orders"
    return [o["id"] for o in body["orders"]]


def test_list_orders_sorts_and_pages(client: AppClient) -> None:
    made = [
        create(client, {"source_id": f"l-{i}", "created_at": f"2024-01-{i + 1:02d}T00:00:00Z"})
        for i in range(7)
    ]
    ids = [o["id"] for o in made]
    assert _ids(client) == ids[::-1][:7]  # default: newest first
    assert _ids(client, order="created_at") == ids
    assert _ids(client, order="-created_at") == ids[::-1]
    # Touch two orders: they become the most recently updated.
    client.put(f"/v1/orders/{ids[1]}", json={"status": "PAID"})
    client.put(f"/v1/orders/{ids[0]}", json={"status": "PAID"})
    by_update = _ids(client, order="updated_at")
    assert by_update[-2:] == [ids[1], ids[0]]
    assert by_update[:5] == ids[2:]
    assert _ids(client, order="-updated_at") == by_update[::-1]
    assert _ids(client, order="created_at", limit=3, page=1) == ids[:3]
    assert _ids(client, order="created_at", limit=3, page=3) == ids[6:]
    assert _ids(client, order="created_at", limit=3, page=4) == []
    body = client.get("/v1/orders", params={"limit": 3, "page": 100}).json()
    assert body["orders"] == [] and body["total"] == 7


def test_customer_and_referrer_are_upserted_and_linked(client: AppClient) -> None:
    order = create(
        client,
        {
            "status": "PAID",
            "items": [{"price": 1000, "quantity": 2}],
            "customer": {"source_id": "bob@example.com", "name": "Bob", "email": "bob@example.com"},
            "referrer": {"source_id": "jane", "name": "Jane"},
        },
    )
    assert order["customer"] == {"id": order["customer_id"], "object": "customer"}
    assert order["referrer"] == {"id": order["referrer_id"], "object": "customer"}
    customer = client.get("/v1/customers/bob@example.com").json()
    assert customer["id"] == order["customer_id"]
    assert customer["name"] == "Bob"
    # The same source_id later updates the same customer.
    again = create(client, {"customer": {"source_id": "bob@example.com", "phone": "+48 1"}})
    assert again["customer_id"] == order["customer_id"]
    customer = client.get(f"/v1/customers/{order['customer_id']}").json()
    assert customer["phone"] == "+48 1" and customer["name"] == "Bob"


def test_referrer_id_links_an_existing_customer_only(client: AppClient) -> None:
    jane = client.post("/v1/customers", json={"source_id": "jane"}).json()
    order = create(client, {"referrer_id": jane["id"]})
    assert order["referrer_id"] == jane["id"]
    response = client.post("/v1/orders", json={"referrer_id": "cust_unknown"})
    assert response.status_code == 404
    assert response.json()["resource_type"] == "customer"


def test_unknown_customer_id_is_404_and_writes_nothing(client: AppClient) -> None:
    response = client.post(
        "/v1/orders", json={"source_id": "z", "customer": {"id": "cust_missing"}}
    )
    assert response.status_code == 404
    assert client.get("/v1/orders/z").status_code == 404


def test_items_upsert_products_and_skus_with_override(client: AppClient) -> None:
    order = create(
        client,
        {
            "items": [
                {
                    "source_id": "prod_1",
                    "related_object": "product",
                    "quantity": 2,
                    "product": {"name": "Apple iPhone 12", "price": 60000, "override": True},
                },
                {
                    "source_id": "ComicBook_1",
                    "related_object": "sku",
                    "quantity": 1,
                    "product": {
                        "source_id": "Books",
                        "name": "Comic Books1",
                        "price": 2100,
                        "override": True,
                    },
                    "sku": {
                        "sku": "Comics1",
                        "source_id": "ComicBook_1",
                        "price": 1700,
                        "override": True,
                    },
                },
            ]
        },
    )
    first, second = order["items"]
    assert first["price"] == 60000 and first["amount"] == 120000
    assert first["product_id"].startswith("prod_")
    assert first["product"]["name"] == "Apple iPhone 12"
    assert second["price"] == 1700 and second["amount"] == 1700
    assert second["sku_id"].startswith("sku_")
    assert second["product"]["source_id"] == "Books"
    assert order["amount"] == 121700
    # Without override a later order links the stored product and takes its price.
    linked = create(client, {"items": [{"source_id": "prod_1", "related_object": "product"}]})
    assert linked["items"][0]["product_id"] == first["product_id"]
    assert linked["items"][0]["price"] == 60000
    assert linked["items"][0]["quantity"] == 1
    # Override again replaces the stored price.
    create(
        client,
        {"items": [{"source_id": "prod_1", "product": {"price": 59000.5, "override": True}}]},
    )
    relinked = create(client, {"items": [{"product_id": first["product_id"], "quantity": 1}]})
    assert relinked["items"][0]["price"] == 59001


def test_unknown_product_id_on_an_item_is_404(client: AppClient) -> None:
    response = client.post("/v1/orders", json={"items": [{"product_id": "prod_nope"}]})
    assert response.status_code == 404
    assert response.json()["resource_type"] == "product"
    assert client.get("/v1/orders").json()["total"] == 0


def test_item_without_override_and_unknown_source_keeps_inline_data(client: AppClient) -> None:
    order = create(
        client,
        {"items": [{"source_id": "ghost", "product": {"name": "Ghost", "price": 300}}]},
    )
    line = order["items"][0]
    assert "product_id" not in line
    assert line["product"] == {"name": "Ghost", "price": 300}
    assert line["price"] == 300
    # Without override nothing is written to the catalogue.
    assert client.get("/v1/products").json()["total"] == 0


def test_an_item_s_price_is_its_own_then_inline_then_stored(client: AppClient) -> None:
    """BEHAVIOR 5.2: item.price, else the item's sku.price, else its product.price, else
    the stored SKU's price, else the stored product's."""
    product = client.post("/v1/products", json={"source_id": "tee", "price": 2500}).json()
    sku = client.post(
        f"/v1/products/{product['id']}/skus", json={"source_id": "tee-m", "price": 1700}
    ).json()
    named = {"sku_id": sku["id"], "quantity": 1}
    cases = [
        ({**named, "price": 900, "sku": {"price": 800}, "product": {"price": 700}}, 900),
        ({**named, "sku": {"price": 800}, "product": {"price": 700}}, 800),
        ({**named, "product": {"price": 5000}}, 5000),
        (named, 1700),
        ({"product_id": product["id"], "quantity": 1}, 2500),
        ({"source_id": "tee-m", "related_object": "sku", "product": {"price": 5000}}, 5000),
    ]
    for item, price in cases:
        line = create(client, {"items": [item]})["items"][0]
        assert line["price"] == price, item


def test_a_line_s_sku_and_product_must_agree(client: AppClient) -> None:
    """A SKU of one product and another product on one line: refused, not linked as a line
    whose rules and discounts see one product and whose SKU is another's."""
    one = client.post("/v1/products", json={"source_id": "p1", "price": 100}).json()
    two = client.post("/v1/products", json={"source_id": "p2", "price": 200}).json()
    sku = client.post(f"/v1/products/{two['id']}/skus", json={"source_id": "s2"}).json()
    before = snapshot(client.db)
    for item in (
        {"product_id": one["id"], "sku_id": sku["id"]},
        {"sku_id": sku["id"], "product": {"source_id": "p1"}},
        {"source_id": "s2", "related_object": "sku", "product_id": one["id"]},
    ):
        response = client.post("/v1/orders", json={"items": [item]})
        assert response.status_code == 400, response.text
        assert ".items[0].sku" in response.json()["details"]
    assert snapshot(client.db) == before
    for item in ({"sku_id": sku["id"]}, {"sku_id": sku["id"], "product_id": two["id"]}):
        line = create(client, {"items": [item]})["items"][0]
        assert (line["product_id"], line["sku_id"]) == (two["id"], sku["id"])


def test_a_stored_order_s_customer_is_never_replaced_by_an_anonymous_one(
    client: AppClient,
) -> None:
    """BEHAVIOR 14.1: a customer object naming nobody makes an anonymous customer only with
    a new order; on a stored order it is refused, and nothing is written."""
    order = create(client, {"source_id": "o-anon", "amount": 100, "customer": {"source_id": "ann"}})
    before = snapshot(client.db)
    for method, path in (("put", f"/v1/orders/{order['id']}"), ("post", "/v1/orders")):
        body: dict[str, Any] = {"customer": {"name": "Stranger"}}
        if method == "post":
            body["source_id"] = "o-anon"
        response = getattr(client, method)(path, json=body)
        assert response.status_code == 400, response.text
        assert ".customer" in response.json()["details"]
    assert snapshot(client.db) == before
    new = create(client, {"amount": 100, "customer": {"name": "Walk-in"}})
    assert new["customer_id"] not in (None, order["customer_id"])
