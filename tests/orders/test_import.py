"""Order import (BEHAVIOR 17) and async actions (19) on both engines: answered at once,
run by the job runner of the serving process; per-order failures listed while the rest
land; a project's imports run one after the other; too many orders refused before anything
is queued."""

from typing import Any

from support.db import snapshot
from support.inprocess import AppClient
from support.polling import wait_until_finished
from support.spec import assert_matches


def wait_done(client: AppClient, action_id: str, timeout: float = 60.0) -> dict[str, Any]:
    return wait_until_finished(
        client, f"/v1/async-actions/{action_id}", ("DONE", "FAILED"), timeout
    )


def start_import(client: AppClient, orders: list[dict[str, Any]]) -> str:
    response = client.post("/v1/orders/import", json=orders)
    assert response.status_code == 200, response.text
    assert_matches(response.json(), file="orders", schema="OrdersImportCreateResponseBody")
    action_id: str = response.json()["async_action_id"]
    assert action_id.startswith("aa_")
    return action_id


def test_orders_land_and_a_bad_one_is_listed(client: AppClient) -> None:
    orders = [
        {
            "source_id": "hist-1",
            "status": "PAID",
            "created_at": "2024-03-01T10:00:00.000Z",
            "customer": {"source_id": "alice"},
            "items": [
                {"source_id": "mug", "related_object": "product", "price": 1500, "quantity": 2}
            ],
        },
        {"source_id": "hist-2", "amount": 700, "customer": {"id": "cust_missing"}},
        {
            "source_id": "hist-3",
            "amount": 900,
            "status": "FULFILLED",
            "customer": {"source_id": "alice"},
        },
    ]
    action = wait_done(client, start_import(client, orders))
    assert_matches(action, file="async-actions", schema="AsyncActionGetResponseBody")
    assert (action["type"], action["status"], action["progress"]) == ("ORDERS.IMPORT", "DONE", 100)
    assert action["operation_status"] == "UNKNOWN"  # partly done
    result = action["result"]
    assert (result["done_count"], result["failed_count"]) == (2, 1)
    assert result["message"] == "2 order(s) imported successfully, 1 failed."
    assert result["failed"][0]["source_id"] == "hist-2"
    assert "cust_missing" in result["failed"][0]["reason"]
    first = client.get("/v1/orders/hist-1").json()
    assert (first["status"], first["created_at"], first["amount"]) == (
        "PAID",
        "2024-03-01T10:00:00.000Z",
        3000,
    )
    assert client.get("/v1/orders/hist-2").status_code == 404
    summary = client.get("/v1/customers/alice").json()["summary"]["orders"]
    assert (summary["total_count"], summary["total_amount"]) == (2, 3900)
    listed = client.get("/v1/async-actions").json()
    assert_matches(listed, file="async-actions", schema="AsyncActionsListResponseBody")
    assert [a["id"] for a in listed["async_actions"]] == [action["id"]]
    assert "result" not in listed["async_actions"][0]


def test_too_many_or_no_orders_are_refused_before_anything_is_queued(client: AppClient) -> None:
    before = snapshot(client.db)
    too_many = client.post("/v1/orders/import", json=[{"amount": 1}] * 2001)
    assert (too_many.status_code, too_many.json()["key"]) == (400, "invalid_payload")
    empty = client.post("/v1/orders/import", json=[])
    assert empty.status_code == 400
    bad = client.post("/v1/orders/import", json=[{"amount": 1}, {"amount": -5}])
    assert bad.status_code == 400 and "amount" in bad.json()["details"]
    not_a_list = client.post("/v1/orders/import", json={"amount": 1})
    assert not_a_list.status_code == 400
    # A date of year 1 at +01:00 is before year 1 in UTC: refused as sent, not a failed job.
    year_0 = [{"amount": 1}, {"amount": 2, "created_at": "0001-01-01T00:30:00+01:00"}]
    out_of_range = client.post("/v1/orders/import", json=year_0)
    assert out_of_range.status_code == 400
    assert "[1].created_at" in out_of_range.json()["details"]
    assert snapshot(client.db) == before


def test_two_thousand_orders_and_a_project_s_imports_run_in_order(client: AppClient) -> None:
    big = [
        {
            "source_id": f"bulk-{n}",
            "status": "PAID",
            "customer": {"source_id": f"buyer-{n % 50}"},
            "items": [
                {
                    "source_id": f"p-{n % 7}",
                    "related_object": "product",
                    "price": 100 + n % 7,
                    "quantity": 1 + n % 3,
                },
            ],
        }
        for n in range(2000)
    ]
    first = start_import(client, big)
    # Queued behind the first: it must see bulk-7 made, and leave it CANCELED.
    second = start_import(client, [{"source_id": "bulk-7", "status": "CANCELED"}])
    done = wait_done(client, first, timeout=120)
    assert done["result"]["done_count"] == 2000 and done["operation_status"] == "SUCCESS"
    later = wait_done(client, second)
    assert later["result"]["done_count"] == 1
    assert client.get("/v1/orders/bulk-7").json()["status"] == "CANCELED"
    assert client.get("/v1/orders").json()["total"] == 2000
    buyer = client.get("/v1/customers/buyer-7").json()["summary"]["orders"]
    assert buyer["total_count"] == 39  # 40 orders, bulk-7 canceled since


def test_async_actions_are_the_project_s_own(client: AppClient) -> None:
    action_id = start_import(client, [{"amount": 100}])
    wait_done(client, action_id)
    other = client.as_project(client.new_project("other"))
    hidden = other.get(f"/v1/async-actions/{action_id}")
    assert (hidden.status_code, hidden.json()["resource_type"]) == (404, "async_action")
    assert other.get("/v1/async-actions").json()["async_actions"] == []
    bad_date = client.get("/v1/async-actions", params={"end_date": "yesterday"})
    assert (bad_date.status_code, bad_date.json()["key"]) == (400, "invalid_query_params")
    earlier = client.get("/v1/async-actions", params={"end_date": "2000-01-01T00:00:00Z"})
    assert earlier.json() == {
        "object": "list",
        "data_ref": "async_actions",
        "async_actions": [],
        "has_more": False,
    }


def test_a_failed_order_leaves_no_trace_in_the_counters(client: AppClient) -> None:
    """Counter changes live beside the transaction: the savepoint of a refused order must
    take back the customer it had counted (a new customer, then an unknown referrer)."""
    orders = [
        {
            "source_id": "c-1",
            "amount": 100,
            "customer": {"source_id": "new-buyer"},
            "referrer": {"id": "cust_nobody"},
        },
        {"amount": 50, "customer": {"id": "cust_missing"}},
    ]
    action = wait_done(client, start_import(client, orders))
    assert action["result"]["failed_count"] == 2
    # Without source_id, a failure has only its reason (the schema's source_id is a string).
    assert action["result"]["failed"][1] == {"reason": action["result"]["failed"][1]["reason"]}
    assert client.get("/v1/customers").json()["total"] == 0
    assert client.get("/v1/orders").json()["total"] == 0


def test_orders_are_queued_as_sent_and_written_as_validated(client: AppClient) -> None:
    """The job holds the orders as the request sent them (unknown fields, "" for none,
    quantities as text): each is written as the create endpoint writes the same body."""
    sent = {
        "status": "PAID",
        "object": "order",
        "total_amount": 1,
        "customer": {"source_id": "as-sent", "name": "As Sent", "unknown": True},
        "items": [
            {"source_id": "thing", "quantity": "2", "price": 150, "product": {"price": 12.345}},
            {"source_id": "", "quantity": 1, "amount": 99, "metadata": {"big": 2**63 - 1}},
        ],
    }
    orders = [
        {"source_id": "", "amount": 5, "customer": {"id": "cust_missing"}},
        {**sent, "source_id": "sent-1"},
    ]
    action = wait_done(client, start_import(client, orders))
    failed = action["result"]["failed"]
    assert [sorted(f) for f in failed] == [["reason"]]  # "" is no source_id
    created = client.post("/v1/orders", json={**sent, "source_id": "sent-2"}).json()
    imported = client.get("/v1/orders/sent-1").json()

    def shape(order: dict[str, Any]) -> dict[str, Any]:
        lines = [{k: v for k, v in line.items() if k != "id"} for line in order["items"]]
        skipped = ("id", "source_id", "created_at", "updated_at")
        return {**{k: v for k, v in order.items() if k not in skipped}, "items": lines}

    assert shape(imported) == shape(created)
    assert imported["items"][0]["quantity"] == 2 and imported["amount"] == 399


def test_orders_of_one_step_keep_the_order_they_were_sent_in(client: AppClient) -> None:
    """Orders sent without created_at all get their step's moment. Ties are broken by id,
    so the customer's last order and the lists follow the order they were sent in."""
    sent = [
        {
            "source_id": f"tie-{n}",
            "status": "PAID",
            "amount": 100 * (n + 1),
            "customer": {"source_id": "tied"},
        }
        for n in range(12)
    ]
    assert wait_done(client, start_import(client, sent))["result"]["done_count"] == 12
    oldest_first = client.get("/v1/orders", params={"limit": 100, "order": "created_at"})
    newest_first = client.get("/v1/orders", params={"limit": 100})
    orders = oldest_first.json()["orders"]
    assert len({order["created_at"] for order in orders}) == 1  # one moment: all tie
    assert [order["source_id"] for order in orders] == [order["source_id"] for order in sent]
    assert [order["source_id"] for order in newest_first.json()["orders"]] == [
        order["source_id"] for order in reversed(sent)
    ]
    summary = client.get("/v1/customers/tied").json()["summary"]["orders"]
    assert (summary["total_count"], summary["last_order_amount"]) == (12, 1200)
