"""Customers: CRUD, upsert, and summary.orders kept exact by every order change."""

from typing import Any

from support.inprocess import AppClient
from support.spec import assert_matches


def customer(client: AppClient, ref: str) -> dict[str, Any]:
    response = client.get(f"/v1/customers/{ref}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    assert_matches(data, file="customers", schema="CustomersGetResponseBody")
    return data


def summary(client: AppClient, ref: str) -> dict[str, Any]:
    result: dict[str, Any] = customer(client, ref)["summary"]["orders"]
    return result


def order(client: AppClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/orders", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_create_get_update_delete(client: AppClient) -> None:
    created = client.post(
        "/v1/customers",
        json={
            "source_id": "alice",
            "name": "Alice",
            "email": "alice@example.com",
            "birthdate": "1990-02-03",
            "address": {"city": "Kraków", "country": "PL"},
            "metadata": {"tier": "gold"},
        },
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert_matches(body, file="customers", schema="CustomersCreateResponseBody")
    assert body["id"].startswith("cust_")
    assert body["birthdate"] == "1990-02-03"
    assert body["summary"]["orders"] == {
        "total_amount": 0,
        "total_count": 0,
        "average_amount": 0,
        "last_order_amount": 0,
    }
    assert customer(client, "alice")["id"] == body["id"]

    updated = client.put("/v1/customers/alice", json={"phone": "+48 600"})
    assert updated.status_code == 200
    assert_matches(updated.json(), file="customers", schema="CustomersUpdateResponseBody")
    assert updated.json()["phone"] == "+48 600"
    assert updated.json()["name"] == "Alice"
    assert "updated_at" in updated.json()

    upserted = client.post("/v1/customers", json={"source_id": "alice", "name": "Alicja"}).json()
    assert upserted["id"] == body["id"]
    assert upserted["name"] == "Alicja" and upserted["email"] == "alice@example.com"

    assert client.delete(f"/v1/customers/{body['id']}").status_code == 204
    gone = client.get("/v1/customers/alice")
    assert gone.status_code == 404
    assert gone.json()["resource_type"] == "customer"
    assert client.delete("/v1/customers/alice").status_code == 404


def test_list_customers(client: AppClient) -> None:
    for i in range(5):
        client.post("/v1/customers", json={"source_id": f"c{i}", "email": f"c{i}@x.io"})
    response = client.get("/v1/customers", params={"limit": 2, "order": "created_at"})
    body = response.json()
    assert_matches(body, file="customers", schema="CustomersListResponseBody")
    assert body["data_ref"] == "customers" and body["total"] == 5 and body["has_more"] is True
    assert [c["source_id"] for c in body["customers"]] == ["c0", "c1"]
    last = client.get("/v1/customers", params={"limit": 2, "page": 3, "order": "created_at"})
    assert [c["source_id"] for c in last.json()["customers"]] == ["c4"]
    assert last.json()["has_more"] is False
    by_email = client.get("/v1/customers", params={"email": "c3@x.io"}).json()
    assert [c["source_id"] for c in by_email["customers"]] == ["c3"]
    assert by_email["total"] == 1
    bad = client.get("/v1/customers", params={"created_at[before]": "yesterday"})
    assert bad.status_code == 400 and bad.json()["key"] == "invalid_query_params"
    # A time zone that pushes the last day of the calendar past it: refused, not a 500.
    edge = client.get("/v1/customers", params={"updated_at[after]": "9999-12-31T23:59:59-14:00"})
    assert edge.status_code == 400 and edge.json()["key"] == "invalid_query_params"
    assert ".updated_at[after]" in edge.json()["details"]


def test_summary_counts_only_paid_and_fulfilled_orders(client: AppClient) -> None:
    bob = {"source_id": "bob"}
    order(client, {"source_id": "o1", "customer": bob, "status": "PAID", "amount": 200000})
    order(client, {"source_id": "o2", "customer": bob, "status": "CREATED", "amount": 999})
    order(client, {"source_id": "o3", "customer": bob, "status": "FULFILLED", "amount": 3900})
    order(client, {"source_id": "o4", "customer": bob, "status": "CANCELED", "amount": 5})
    s = summary(client, "bob")
    assert s["total_amount"] == 203900
    assert s["total_count"] == 2
    assert s["average_amount"] == 101950
    assert s["last_order_amount"] == 3900
    assert s["last_order_date"] == client.get("/v1/orders/o3").json()["created_at"]


def test_a_new_customer_starts_with_its_first_counted_order(client: AppClient) -> None:
    # The customer is created by the order itself, with a date from the past.
    first = {"source_id": "h1", "customer": {"source_id": "hist"}, "status": "PAID"}
    order(client, {**first, "amount": 700, "created_at": "2020-01-02T03:04:05.678Z"})
    assert summary(client, "hist") == {
        "total_amount": 700,
        "total_count": 1,
        "average_amount": 700,
        "last_order_amount": 700,
        "last_order_date": "2020-01-02T03:04:05.678Z",
    }
    # An even older order does not become the last one.
    older = {"source_id": "h0", "customer": {"source_id": "hist"}, "status": "PAID"}
    order(client, {**older, "amount": 300, "created_at": "2019-05-05T00:00:00.000Z"})
    s = summary(client, "hist")
    assert (s["total_amount"], s["total_count"], s["last_order_amount"]) == (1000, 2, 700)
    # A new customer whose first order does not count starts with nothing.
    order(client, {"source_id": "h2", "customer": {"source_id": "fresh"}, "amount": 5})
    assert summary(client, "fresh")["total_count"] == 0


def test_summary_follows_status_changes_and_customer_moves(client: AppClient) -> None:
    order(client, {"source_id": "a", "customer": {"source_id": "ann"}, "amount": 1000})
    assert summary(client, "ann")["total_count"] == 0
    client.put("/v1/orders/a", json={"status": "PAID"})
    assert summary(client, "ann")["total_amount"] == 1000
    client.put("/v1/orders/a", json={"amount": 1500})
    assert summary(client, "ann")["total_amount"] == 1500
    # Moving the paid order to another customer moves the money with it.
    client.put("/v1/orders/a", json={"customer": {"source_id": "ben"}})
    assert summary(client, "ann")["total_count"] == 0
    assert summary(client, "ann")["total_amount"] == 0
    assert "last_order_date" not in summary(client, "ann")
    assert summary(client, "ben")["total_amount"] == 1500
    client.put("/v1/orders/a", json={"status": "CANCELED"})
    assert summary(client, "ben") == {
        "total_amount": 0,
        "total_count": 0,
        "average_amount": 0,
        "last_order_amount": 0,
    }


def test_average_rounds_half_up(client: AppClient) -> None:
    for i, amount in enumerate((1, 2)):
        order(
            client,
            {
                "source_id": f"r{i}",
                "customer": {"source_id": "r"},
                "status": "PAID",
                "amount": amount,
            },
        )
    assert summary(client, "r")["average_amount"] == 2  # 1.5 -> 2


def test_deleting_a_customer_keeps_the_orders(client: AppClient) -> None:
    made = order(client, {"source_id": "k", "customer": {"source_id": "gone"}, "status": "PAID"})
    assert client.delete(f"/v1/customers/{made['customer_id']}").status_code == 204
    kept = client.get("/v1/orders/k").json()
    assert kept["customer_id"] is None and "customer" not in kept


def test_a_customer_named_by_id_inside_an_order_keeps_its_source_id(client: AppClient) -> None:
    """BEHAVIOR 14.1: matched by id, the source_id then ignored. It renamed the customer (a
    typo next to a right id broke every lookup by the old one), or failed with 409 when
    the source_id was another customer's. POST /v1/customers still renames (14.2)."""
    alice = client.post("/v1/customers", json={"source_id": "alice"}).json()
    client.post("/v1/customers", json={"source_id": "bob"})
    for source_id in ("bob", "typo"):
        body = {"amount": 100, "customer": {"id": alice["id"], "source_id": source_id}}
        order = client.post("/v1/orders", json=body)
        assert order.status_code == 200, order.text
        assert order.json()["customer_id"] == alice["id"]
    assert client.get("/v1/customers/alice").json()["id"] == alice["id"]
    renamed = client.post("/v1/customers", json={"id": alice["id"], "source_id": "alicia"})
    assert renamed.json()["source_id"] == "alicia"
