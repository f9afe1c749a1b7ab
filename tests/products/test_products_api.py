"""Products: upsert, get by id or source_id, partial update, list, delete, bad input and
isolation between projects; every response checked against products.json."""

import time
from typing import Any

import pytest

from support.db import snapshot
from support.inprocess import AppClient
from support.spec import assert_matches

from .helpers import assert_error, create, fetch, listing


def test_create_and_get_by_id_and_source_id(client: AppClient) -> None:
    body = create(
        client,
        {
            "source_id": "shirt",
            "name": "T-shirt",
            "price": 2500,
            "attributes": ["color", "size"],
            "metadata": {"vendor": "Acme", "eco": True},
            "image_url": "https://images.example/shirt.png",
        },
    )
    assert body["id"].startswith("prod_") and len(body["id"]) == len("prod_") + 18
    assert body["object"] == "product"
    assert body["source_id"] == "shirt" and body["name"] == "T-shirt"
    assert body["price"] == 2500
    assert body["attributes"] == ["color", "size"]
    assert body["metadata"] == {"vendor": "Acme", "eco": True}
    assert body["image_url"] == "https://images.example/shirt.png"
    assert body["created_at"].endswith("Z") and len(body["created_at"]) == 24
    assert body["updated_at"] is None
    assert body["skus"] == {"object": "list", "data_ref": "data", "data": [], "total": 0}

    assert fetch(client, body["id"]) == body
    assert fetch(client, "shirt") == body


def test_minimal_product_prints_every_field(client: AppClient) -> None:
    body = create(client, {})
    assert body["source_id"] is None and body["name"] is None and body["price"] is None
    assert body["attributes"] == [] and body["metadata"] == {} and body["image_url"] is None
    # An empty source_id means none, so two such products are two products.
    other = create(client, {"source_id": ""})
    assert other["source_id"] is None and other["id"] != body["id"]
    assert listing(client)["total"] == 2


def test_upsert_by_source_id_and_by_id(client: AppClient) -> None:
    first = create(client, {"source_id": "mug", "name": "Mug", "price": 900, "metadata": {"a": 1}})

    again = create(client, {"source_id": "mug", "price": 1000})
    assert again["id"] == first["id"]
    assert again["price"] == 1000
    assert again["name"] == "Mug" and again["metadata"] == {"a": 1}  # not sent: kept
    assert again["created_at"] == first["created_at"]
    assert again["updated_at"] is not None

    by_id = create(client, {"id": first["id"], "name": "Big mug"})
    assert by_id["id"] == first["id"] and by_id["name"] == "Big mug"
    assert by_id["source_id"] == "mug"  # not sent with the id: kept

    renamed = create(client, {"id": first["id"], "source_id": "big-mug"})
    assert renamed["source_id"] == "big-mug"
    assert fetch(client, "big-mug")["id"] == first["id"]
    assert client.get("/v1/products/mug").status_code == 404

    assert listing(client)["total"] == 1


def test_upsert_conflicts_write_nothing(client: AppClient) -> None:
    a = create(client, {"source_id": "a"})
    create(client, {"source_id": "b"})
    before = snapshot(client.db)

    unknown = assert_error(
        client.post("/v1/products", json={"id": "prod_000000000000000000", "name": "x"}),
        404,
        "not_found",
    )
    assert unknown["resource_type"] == "product"
    assert unknown["resource_id"] == "prod_000000000000000000"
    assert unknown["details"] == "Cannot find product with id prod_000000000000000000"

    taken = assert_error(
        client.post("/v1/products", json={"id": a["id"], "source_id": "b", "name": "x"}),
        409,
        "duplicate_found",
    )
    assert taken["resource_type"] == "product" and taken["resource_id"] == "b"
    assert snapshot(client.db) == before


def test_update_changes_only_the_fields_sent(client: AppClient) -> None:
    created = create(
        client,
        {
            "source_id": "lamp",
            "name": "Lamp",
            "price": 4000,
            "attributes": ["w"],
            "metadata": {"k": 1},
        },
    )

    response = client.put("/v1/products/lamp", json={"price": 4500, "source_id": "ignored"})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert_matches(updated, file="products", schema="ProductsUpdateResponseBody")
    assert updated["price"] == 4500
    assert updated["source_id"] == "lamp"  # not an updatable field
    assert updated["name"] == "Lamp" and updated["attributes"] == ["w"]
    assert updated["metadata"] == {"k": 1}
    assert updated["updated_at"] is not None and updated["updated_at"] >= created["created_at"]

    # Through the Tally id too; null clears a nullable field, and empties metadata.
    response = client.put(
        f"/v1/products/{created['id']}", json={"name": None, "metadata": None, "attributes": []}
    )
    assert response.status_code == 200, response.text
    cleared = response.json()
    assert cleared["name"] is None and cleared["metadata"] == {} and cleared["attributes"] == []
    assert cleared["price"] == 4500
    assert fetch(client, "lamp") == cleared

    # An empty body changes nothing.
    same = client.put("/v1/products/lamp", json={})
    assert same.status_code == 200 and same.json() == cleared


def test_unknown_product_is_404(client: AppClient) -> None:
    before = snapshot(client.db)
    for response in (
        client.get("/v1/products/nothing-here"),
        client.put("/v1/products/nothing-here", json={"name": "x"}),
        client.delete("/v1/products/nothing-here"),
        client.get("/v1/products/nothing-here/skus"),
        client.post("/v1/products/nothing-here/skus", json={"sku": "x"}),
    ):
        body = assert_error(response, 404, "not_found")
        assert body["message"] == "Resource not found"
        assert body["details"] == "Cannot find product with id nothing-here"
        assert body["resource_type"] == "product" and body["resource_id"] == "nothing-here"
    assert snapshot(client.db) == before


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"price": -1}, "Property .price cannot be lower than 0"),
        ({"price": "100"}, "Property .price should be integer"),
        ({"price": 10.5}, "Property .price should be integer"),
        ({"price": True}, "Property .price should be integer"),
        ({"attributes": {"color": "red"}}, "Property .attributes should be array"),
        ({"attributes": ["ok", 5]}, "Property .attributes[1] should be string"),
        ({"metadata": ["x"]}, "Property .metadata should be object"),
        ({"name": 12}, "Property .name should be string"),
    ],
)
def test_bad_product_body_is_rejected_before_writing(
    client: AppClient, body: dict[str, Any], details: str
) -> None:
    create(client, {"source_id": "kept", "price": 1})
    before = snapshot(client.db)
    for response in (
        client.post("/v1/products", json={"source_id": "new", **body}),
        client.post("/v1/products", json={"source_id": "kept", **body}),
        client.put("/v1/products/kept", json=body),
    ):
        error = assert_error(response, 400, "invalid_payload")
        assert error["message"] == "Invalid payload"
        assert details in error["details"]
    assert snapshot(client.db) == before


def test_malformed_bodies(client: AppClient) -> None:
    before = snapshot(client.db)
    error = assert_error(
        client.post("/v1/products", json={"source_id": "x" * 256}), 400, "invalid_payload"
    )
    assert error["details"] == "Property .source_id should not be longer than 255 characters"
    assert_error(client.post("/v1/products", json=["x"]), 400, "invalid_payload")
    assert_error(
        client.post("/v1/products", content=b"{", headers={"content-type": "application/json"}),
        400,
        "invalid_payload",
    )
    assert snapshot(client.db) == before


def test_list_pages_orders_and_totals(client: AppClient) -> None:
    ids = []
    for i in range(5):
        ids.append(create(client, {"source_id": f"p{i}", "price": i})["id"])
        time.sleep(0.003)  # distinct created_at milliseconds

    # Default: oldest first (products.json list-products: "most recent products appearing last").
    first = listing(client, limit=2)
    assert first["object"] == "list" and first["data_ref"] == "products"
    assert first["total"] == 5
    assert [p["id"] for p in first["products"]] == ids[:2]
    assert [p["id"] for p in listing(client, limit=2, page=3)["products"]] == ids[4:]
    past = listing(client, limit=2, page=4)
    assert past["products"] == [] and past["total"] == 5
    assert [p["id"] for p in listing(client)["products"]] == ids

    newest = listing(client, order="-created_at", limit=3)
    assert [p["id"] for p in newest["products"]] == ids[::-1][:3]

    time.sleep(0.003)
    client.put("/v1/products/p1", json={"name": "touched"})
    by_update = listing(client, order="-updated_at")
    assert by_update["products"][0]["id"] == ids[1]
    assert [p["id"] for p in listing(client, order="updated_at")["products"]][-1] == ids[1]

    # Orders the spec lists that products lack sort by creation date.
    assert [p["id"] for p in listing(client, order="-code")["products"]] == ids[::-1]
    assert [p["id"] for p in listing(client, order="category")["products"]] == ids


def test_list_includes_each_products_skus(client: AppClient) -> None:
    a = create(client, {"source_id": "a", "attributes": ["size"]})
    b = create(client, {"source_id": "b"})
    for size in ("S", "M"):
        response = client.post(
            "/v1/products/a/skus", json={"source_id": f"a-{size}", "attributes": {"size": size}}
        )
        assert response.status_code == 200, response.text
    products = {p["id"]: p for p in listing(client)["products"]}
    assert products[a["id"]]["skus"]["total"] == 2
    assert [s["source_id"] for s in products[a["id"]]["skus"]["data"]] == ["a-S", "a-M"]
    assert products[b["id"]]["skus"] == {
        "object": "list",
        "data_ref": "data",
        "data": [],
        "total": 0,
    }
    assert fetch(client, "a")["skus"] == products[a["id"]]["skus"]


def test_list_filters_by_creation_date(client: AppClient) -> None:
    old = create(client, {"source_id": "old"})
    time.sleep(0.01)
    new = create(client, {"source_id": "new"})
    # Both bounds are inclusive.
    after = listing(client, start_date=new["created_at"])
    assert [p["id"] for p in after["products"]] == [new["id"]] and after["total"] == 1
    before = listing(client, end_date=old["created_at"])
    assert [p["id"] for p in before["products"]] == [old["id"]] and before["total"] == 1
    # A bare end date covers its whole day.
    whole_day = listing(client, start_date=old["created_at"][:10], end_date=new["created_at"][:10])
    assert whole_day["total"] == 2
    assert listing(client, start_date="2000-01-01", end_date="2000-01-02")["total"] == 0


@pytest.mark.parametrize(
    ("params", "details"),
    [
        ({"limit": 0}, "Property .limit cannot be lower than 1"),
        ({"limit": 101}, "Property .limit cannot be greater than 100"),
        ({"limit": "ten"}, "Property .limit should be integer"),
        ({"page": 0}, "Property .page cannot be lower than 1"),
        ({"page": 101}, "Property .page cannot be greater than 100"),
        ({"order": "name"}, "Property .order should be one of"),
        (
            {"start_date": "yesterday"},
            "Property .start_date cannot be recognized as a ISO-8601 compliant date",
        ),
        (
            {"end_date": "2024-13-01"},
            "Property .end_date cannot be recognized as a ISO-8601 compliant date",
        ),
    ],
)
def test_bad_list_params(client: AppClient, params: dict[str, Any], details: str) -> None:
    for path in ("/v1/products", "/v1/products/p/skus"):
        if path.endswith("skus"):
            create(client, {"source_id": "p"})
        error = assert_error(client.get(path, params=params), 400, "invalid_query_params")
        assert error["message"] == "Invalid query params"
        assert details in error["details"]


def test_delete_product_removes_its_skus(client: AppClient) -> None:
    product = create(client, {"source_id": "gone", "price": 100})
    sku = client.post("/v1/products/gone/skus", json={"source_id": "gone-1", "price": 50}).json()
    keep = create(client, {"source_id": "stays"})

    response = client.delete("/v1/products/gone", params={"force": "true"})
    assert response.status_code == 204 and response.content == b""
    assert_error(client.get(f"/v1/products/{product['id']}"), 404, "not_found")
    assert_error(client.get(f"/v1/skus/{sku['id']}"), 404, "not_found")
    assert_error(client.get("/v1/skus/gone-1"), 404, "not_found")
    body = listing(client)
    assert body["total"] == 1 and [p["id"] for p in body["products"]] == [keep["id"]]

    # The source ids are free again.
    assert create(client, {"source_id": "gone"})["id"] != product["id"]
    assert listing(client)["total"] == 2

    # Without force, by id: the same.
    assert client.delete(f"/v1/products/{keep['id']}").status_code == 204
    assert listing(client)["total"] == 1
    assert_error(client.delete(f"/v1/products/{keep['id']}"), 404, "not_found")


def test_product_named_by_an_order_stays_deletable(client: AppClient) -> None:
    create(client, {"source_id": "boxed", "name": "Box", "price": 700})
    order = client.post(
        "/v1/orders",
        json={"items": [{"source_id": "boxed", "related_object": "product", "quantity": 2}]},
    )
    assert order.status_code == 200, order.text
    assert client.delete("/v1/products/boxed").status_code == 204
    again = client.get(f"/v1/orders/{order.json()['id']}")
    assert again.status_code == 200, again.text
    assert again.json()["amount"] == order.json()["amount"]


def test_projects_are_isolated(client: AppClient) -> None:
    mine = create(client, {"source_id": "shared", "name": "Mine"})
    client.post("/v1/products/shared/skus", json={"source_id": "shared-sku"})
    other = client.as_project(client.new_project("other"))

    assert_error(other.get(f"/v1/products/{mine['id']}"), 404, "not_found")
    assert_error(other.get("/v1/products/shared"), 404, "not_found")
    assert_error(other.get("/v1/skus/shared-sku"), 404, "not_found")
    assert_error(other.put("/v1/products/shared", json={"name": "x"}), 404, "not_found")
    assert_error(other.delete("/v1/products/shared"), 404, "not_found")
    assert_error(other.post("/v1/products", json={"id": mine["id"]}), 404, "not_found")
    empty = other.get("/v1/products").json()
    assert empty["products"] == [] and empty["total"] == 0

    # The same source_id names a different product in the other project.
    theirs = other.post("/v1/products", json={"source_id": "shared", "name": "Theirs"})
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["id"] != mine["id"] and theirs.json()["skus"]["total"] == 0
    assert fetch(client, "shared")["name"] == "Mine"
    assert listing(client)["total"] == 1
    assert other.get("/v1/products").json()["total"] == 1


def test_requires_credentials(client: AppClient) -> None:
    for method, path in (
        ("GET", "/v1/products"),
        ("POST", "/v1/products"),
        ("GET", "/v1/skus/x"),
        ("GET", "/v1/products/x/skus"),
    ):
        response = client.anonymous.request(method, path, json={} if method == "POST" else None)
        assert response.status_code == 401
        assert response.json()["key"] == "unauthorized"
