"""SKUs: upsert under a product, get, partial update, list, delete and bad input; every
response checked against products.json."""

import time
from typing import Any

import pytest

from support.db import snapshot
from support.inprocess import AppClient
from support.spec import assert_matches

from .helpers import add_sku, assert_error, create, fetch, get_sku, list_skus


def test_create_sku_under_product_named_by_source_id(client: AppClient) -> None:
    product = create(client, {"source_id": "phone", "attributes": ["color", "memory"]})
    sku = add_sku(
        client,
        "phone",
        {
            "source_id": "phone-black-256",
            "sku": "Phone black 256GB",
            "price": 129900,
            "currency": "USD",
            "attributes": {"color": "black", "memory": "256"},
            "image_url": "https://images.example/phone.png",
            "metadata": {"imported": True},
        },
    )
    assert sku["id"].startswith("sku_") and len(sku["id"]) == len("sku_") + 18
    assert sku["object"] == "sku" and sku["product_id"] == product["id"]
    assert sku["source_id"] == "phone-black-256" and sku["sku"] == "Phone black 256GB"
    assert sku["price"] == 129900 and sku["currency"] == "USD"
    assert sku["attributes"] == {"color": "black", "memory": "256"}
    assert sku["image_url"] == "https://images.example/phone.png"
    assert sku["metadata"] == {"imported": True}
    assert sku["created_at"].endswith("Z") and sku["updated_at"] is None

    assert get_sku(client, sku["id"]) == sku
    assert get_sku(client, "phone-black-256") == sku
    listed = fetch(client, product["id"])["skus"]
    assert listed == {"object": "list", "data_ref": "data", "data": [sku], "total": 1}


def test_minimal_sku_prints_every_field_as_null(client: AppClient) -> None:
    product = create(client, {})
    sku = add_sku(client, product["id"], {})
    for name in ("source_id", "sku", "price", "currency", "image_url", "updated_at"):
        assert sku[name] is None, name
    assert sku["attributes"] == {} and sku["metadata"] == {}


def test_sku_upsert(client: AppClient) -> None:
    create(client, {"source_id": "cup"})
    first = add_sku(client, "cup", {"source_id": "cup-s", "sku": "Small", "price": 300})

    again = add_sku(client, "cup", {"source_id": "cup-s", "price": 350})
    assert again["id"] == first["id"] and again["price"] == 350
    assert again["sku"] == "Small" and again["updated_at"] is not None

    by_id = add_sku(client, "cup", {"id": first["id"], "currency": "EUR"})
    assert by_id["id"] == first["id"] and by_id["currency"] == "EUR"
    assert by_id["source_id"] == "cup-s"

    renamed = add_sku(client, "cup", {"id": first["id"], "source_id": "cup-small"})
    assert renamed["source_id"] == "cup-small"
    assert get_sku(client, "cup-small")["id"] == first["id"]
    assert list_skus(client, "cup")["total"] == 1


def test_sku_upsert_conflicts_write_nothing(client: AppClient) -> None:
    create(client, {"source_id": "one"})
    create(client, {"source_id": "two"})
    a = add_sku(client, "one", {"source_id": "a"})
    add_sku(client, "one", {"source_id": "b"})
    foreign = add_sku(client, "two", {"source_id": "foreign"})
    before = snapshot(client.db)

    unknown = assert_error(
        client.post("/v1/products/one/skus", json={"id": "sku_000000000000000000"}),
        404,
        "not_found",
    )
    assert unknown["resource_type"] == "sku" and unknown["resource_id"] == "sku_000000000000000000"
    # A SKU of another product is not found under this one...
    other = assert_error(
        client.post("/v1/products/one/skus", json={"id": foreign["id"], "price": 1}),
        404,
        "not_found",
    )
    assert other["resource_type"] == "sku"
    # ...and its source_id is taken (source ids are unique among the project's SKUs).
    taken = assert_error(
        client.post("/v1/products/one/skus", json={"source_id": "foreign", "price": 1}),
        409,
        "duplicate_found",
    )
    assert taken["resource_type"] == "sku" and taken["resource_id"] == "foreign"
    assert_error(
        client.post("/v1/products/one/skus", json={"id": a["id"], "source_id": "b"}),
        409,
        "duplicate_found",
    )
    assert snapshot(client.db) == before


def test_update_sku_changes_only_the_fields_sent(client: AppClient) -> None:
    product = create(client, {"source_id": "tee"})
    sku = add_sku(
        client,
        "tee",
        {"source_id": "tee-m", "sku": "M", "price": 1500, "currency": "USD", "metadata": {"x": 1}},
    )

    response = client.put("/v1/products/tee/skus/tee-m", json={"price": 1600, "currency": "PLN"})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert_matches(updated, file="products", schema="ProductsSkusUpdateResponseBody")
    assert updated["price"] == 1600 and updated["currency"] == "PLN"
    assert updated["sku"] == "M" and updated["metadata"] == {"x": 1}
    assert updated["source_id"] == "tee-m" and updated["updated_at"] is not None

    response = client.put(
        f"/v1/products/{product['id']}/skus/{sku['id']}",
        json={"attributes": {"size": "M"}, "image_url": None, "metadata": None, "sku": None},
    )
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["attributes"] == {"size": "M"} and second["metadata"] == {}
    assert second["sku"] is None and second["price"] == 1600
    assert get_sku(client, sku["id"]) == second


def test_sku_404s(client: AppClient) -> None:
    create(client, {"source_id": "p1"})
    create(client, {"source_id": "p2"})
    add_sku(client, "p2", {"source_id": "p2-sku"})
    before = snapshot(client.db)

    missing = assert_error(client.get("/v1/skus/nope"), 404, "not_found")
    assert missing["details"] == "Cannot find sku with id nope"
    assert missing["resource_type"] == "sku" and missing["resource_id"] == "nope"

    # The SKU exists, but not under this product.
    wrong = assert_error(
        client.put("/v1/products/p1/skus/p2-sku", json={"price": 1}), 404, "not_found"
    )
    assert wrong["resource_type"] == "sku" and wrong["resource_id"] == "p2-sku"
    assert_error(client.delete("/v1/products/p1/skus/p2-sku"), 404, "not_found")
    # An unknown product is named before the SKU.
    product = assert_error(
        client.put("/v1/products/p9/skus/p2-sku", json={"price": 1}), 404, "not_found"
    )
    assert product["resource_type"] == "product" and product["resource_id"] == "p9"
    assert snapshot(client.db) == before


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"price": -5}, "Property .price cannot be lower than 0"),
        ({"price": "5"}, "Property .price should be integer"),
        ({"price": 1.25}, "Property .price should be integer"),
        ({"attributes": ["color"]}, "Property .attributes should be object"),
        ({"metadata": "x"}, "Property .metadata should be object"),
        ({"currency": "EURO"}, "Property .currency should not be longer than 3 characters"),
        ({"sku": ["x"]}, "Property .sku should be string"),
    ],
)
def test_bad_sku_body_is_rejected_before_writing(
    client: AppClient, body: dict[str, Any], details: str
) -> None:
    create(client, {"source_id": "prod"})
    add_sku(client, "prod", {"source_id": "kept", "price": 1})
    before = snapshot(client.db)
    for response in (
        client.post("/v1/products/prod/skus", json={"source_id": "new", **body}),
        client.post("/v1/products/prod/skus", json={"source_id": "kept", **body}),
        client.put("/v1/products/prod/skus/kept", json=body),
    ):
        error = assert_error(response, 400, "invalid_payload")
        assert details in error["details"]
    assert snapshot(client.db) == before


def test_list_skus_pages_and_orders(client: AppClient) -> None:
    create(client, {"source_id": "box"})
    create(client, {"source_id": "other"})
    add_sku(client, "other", {"source_id": "not-mine"})
    ids = []
    for i in range(4):
        ids.append(add_sku(client, "box", {"source_id": f"box-{i}", "price": i})["id"])
        time.sleep(0.003)

    body = list_skus(client, "box", limit=3)
    assert body["object"] == "list" and body["data_ref"] == "skus" and body["total"] == 4
    assert [s["id"] for s in body["skus"]] == ids[:3]
    assert [s["id"] for s in list_skus(client, "box", limit=3, page=2)["skus"]] == ids[3:]
    past = list_skus(client, "box", limit=3, page=3)
    assert past["skus"] == [] and past["total"] == 4
    assert [s["id"] for s in list_skus(client, "box", order="-created_at")["skus"]] == ids[::-1]

    client.put("/v1/products/box/skus/box-0", json={"price": 99})
    assert list_skus(client, "box", order="-updated_at")["skus"][0]["id"] == ids[0]

    first = get_sku(client, ids[0])
    later = list_skus(client, "box", start_date=get_sku(client, ids[2])["created_at"])
    assert [s["id"] for s in later["skus"]] == ids[2:] and later["total"] == 2
    early = list_skus(client, "box", end_date=first["created_at"])
    assert [s["id"] for s in early["skus"]] == ids[:1] and early["total"] == 1


def test_delete_sku(client: AppClient) -> None:
    product = create(client, {"source_id": "pen"})
    blue = add_sku(client, "pen", {"source_id": "pen-blue"})
    red = add_sku(client, "pen", {"source_id": "pen-red"})

    response = client.delete("/v1/products/pen/skus/pen-blue", params={"force": "true"})
    assert response.status_code == 204 and response.content == b""
    assert_error(client.get(f"/v1/skus/{blue['id']}"), 404, "not_found")
    assert client.delete(f"/v1/products/{product['id']}/skus/{red['id']}").status_code == 204
    assert fetch(client, "pen")["skus"]["total"] == 0
    assert_error(client.delete("/v1/products/pen/skus/pen-red"), 404, "not_found")
    # The product itself stays, and its SKU source ids are free again.
    assert add_sku(client, "pen", {"source_id": "pen-blue"})["id"] != blue["id"]


def test_skus_are_isolated_between_projects(client: AppClient) -> None:
    create(client, {"source_id": "p"})
    sku = add_sku(client, "p", {"source_id": "s"})
    other = client.as_project(client.new_project("other"))
    assert other.post("/v1/products", json={"source_id": "p"}).status_code == 200

    assert_error(other.get(f"/v1/skus/{sku['id']}"), 404, "not_found")
    assert_error(other.put("/v1/products/p/skus/s", json={"price": 1}), 404, "not_found")
    assert_error(other.post("/v1/products/p/skus", json={"id": sku["id"]}), 404, "not_found")
    assert other.get("/v1/products/p/skus").json()["total"] == 0
    theirs = other.post("/v1/products/p/skus", json={"source_id": "s"})
    assert theirs.status_code == 200 and theirs.json()["id"] != sku["id"]
    assert get_sku(client, "s")["id"] == sku["id"]
