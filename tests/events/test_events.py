"""Events (BEHAVIOR 20) on both engines: written in the transaction of the change, numbered
per order, in the spec's payload shapes; none from imports or from a request that rolled
back; GET /v1/events pages without gaps or repeats, even past a transaction still running
(PostgreSQL); the customer activity; other projects see nothing."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from support.db import snapshot
from support.inprocess import AppClient
from support.polling import wait_until_finished
from support.spec import assert_matches
from tally.customers.schemas import CustomerRef
from tally.events import service as events_service
from tally.events import tables
from tally.events.recorder import Source, recording
from tally.orders import service as orders
from tally.orders.schemas import OrderCreate, OrderUpdate


def events(client: AppClient, **params: Any) -> list[dict[str, Any]]:
    """Every event the project has, oldest first, paged through with the cursor."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        query = {"limit": 7, **params, **({"starting_after": after} if after else {})}
        response = client.get("/v1/events", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert (page["object"], page["data_ref"]) == ("list", "events")
        found.extend(page["events"])
        if not page["has_more"]:
            return found
        after = page["events"][-1]["id"]


def assert_event_data(data: dict[str, Any], schema: str) -> None:
    """The spec's event schema, where the examples' nulls (referrer, redemption: BEHAVIOR
    20.3 "may be null") are not declared nullable: checked without them."""
    assert_matches({k: v for k, v in data.items() if v is not None}, "customers", schema)


def types(found: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in found]


def create_order(client: AppClient, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    response = client.post("/v1/orders", json=body)
    assert response.status_code == 200, response.text
    return response.json(), response.headers["x-request-id"]


def test_order_changes_emit_numbered_events_with_the_order_as_it_was(client: AppClient) -> None:
    order, request_id = create_order(
        client,
        {
            "source_id": "ev-1",
            "amount": 5000,
            "status": "PAID",
            "customer": {"source_id": "ev-cust", "name": "Ada"},
            "referrer": {"source_id": "ev-ref"},
        },
    )
    first = events(client)
    assert types(first) == [
        "customer.created",
        "customer.created",
        "customer.order.created",
        "customer.order.paid",
    ]
    assert {event["group_id"] for event in first} == {request_id}
    assert [e["sequence"] for e in first if e["order_id"]] == [1, 2]
    created = first[2]
    assert created["entity_id"] == order["id"] == created["data"]["order"]["id"]
    assert created["customer_id"] == order["customer_id"]
    assert created["data"]["customer"]["source_id"] == "ev-cust"
    assert created["data"]["referrer"]["source_id"] == "ev-ref"
    assert created["data"]["redemption"] is None
    # Both order events show the order exactly as the response printed it.
    assert created["data"]["order"] == order == first[3]["data"]["order"]
    assert created["event_source"] == {
        "channel": "API",
        "api_key": {"name": "default", "app_id": client.project.app_id},
    }
    assert_event_data(created["data"], "EventCustomerOrderCreated")
    assert_event_data(first[0]["data"], "EventCustomerCreated")
    # The customer's data is the customer as the request left it: with this order counted.
    assert first[0]["data"]["customer"]["summary"]["orders"]["total_count"] == 1

    response = client.put(f"/v1/orders/{order['id']}", json={"status": "CANCELED"})
    assert response.status_code == 200
    client.put(f"/v1/orders/{order['id']}", json={"metadata": {"a": 1}})
    client.put(f"/v1/orders/{order['id']}", json={"status": "FULFILLED"})
    later = events(client, order_id=order["id"])
    assert types(later) == [
        "customer.order.created",
        "customer.order.paid",
        "customer.order.updated",
        "customer.order.canceled",
        "customer.order.updated",
        "customer.order.updated",
        "customer.order.fulfilled",
    ]
    assert [event["sequence"] for event in later] == [1, 2, 3, 4, 5, 6, 7]
    assert later[3]["data"]["order"]["status"] == "CANCELED"
    assert later[2]["data"]["order"] == later[3]["data"]["order"] == response.json()
    assert later[4]["data"]["order"]["metadata"] == {"a": 1}
    # Another order starts its own sequence.
    other, _ = create_order(client, {"source_id": "ev-2", "amount": 100})
    assert [e["sequence"] for e in events(client, order_id=other["id"])] == [1]
    assert types(events(client, type="customer.order.fulfilled")) == ["customer.order.fulfilled"]


def _voucher(client: AppClient, code: str, amount: int) -> None:
    body = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": amount}}
    response = client.post(f"/v1/vouchers/{code}", json=body)
    assert response.status_code == 200, response.text


def test_redemptions_and_rollbacks_emit_their_events(client: AppClient) -> None:
    _voucher(client, "EV-A", 100)
    _voucher(client, "EV-B", 200)
    body = {
        "redeemables": [{"object": "voucher", "id": "EV-A"}, {"object": "voucher", "id": "EV-B"}],
        "customer": {"source_id": "ev-redeemer"},
        "order": {"source_id": "ev-r1", "amount": 10_000},
    }
    response = client.post("/v1/redemptions", json=body)
    assert response.status_code == 200, response.text
    redeemed = response.json()
    parent = redeemed["parent_redemption"]["id"]
    found = events(client)
    assert types(found) == [
        "customer.created",
        "customer.order.created",
        "customer.order.paid",
        "customer.redemption.succeeded",
        "customer.redemption.succeeded",
    ]
    order_id = redeemed["order"]["id"]
    assert [e["sequence"] for e in found[1:]] == [1, 2, 3, 4]
    # The order's events name the redemption that caused them (the parent of a stack).
    assert found[2]["data"]["redemption"]["id"] == parent
    assert found[2]["data"]["order"]["total_amount"] == 10_000 - 300
    children = [r["id"] for r in redeemed["redemptions"]]
    assert [e["entity_id"] for e in found[3:]] == children
    assert [e["data"]["voucher"]["code"] for e in found[3:]] == ["EV-A", "EV-B"]
    for event in found[3:]:
        assert event["order_id"] == order_id
        assert event["data"]["customer"]["source_id"] == "ev-redeemer"
        assert_event_data(event["data"], "EventCustomerRedemptionSucceeded")

    response = client.post(f"/v1/redemptions/{parent}/rollbacks", json={})
    assert response.status_code == 200, response.text
    rolled = events(client)[len(found) :]
    assert types(rolled) == [
        "customer.order.updated",
        "customer.order.canceled",
        "customer.redemption.rollback.succeeded",
        "customer.redemption.rollback.succeeded",
    ]
    assert [e["sequence"] for e in rolled] == [5, 6, 7, 8]
    assert rolled[1]["data"]["order"]["total_amount"] == 10_000
    assert rolled[1]["data"]["redemption"]["object"] == "redemption_rollback"
    for event in rolled[2:]:
        assert event["data"]["redemption"]["status"] == "ROLLED_BACK"
        assert event["data"]["redemption_rollback"]["result"] == "SUCCESS"

    # Refused: a failed event that names the order but takes no number in its sequence. A
    # refused redemption saves the order it sends (BEHAVIOR 8.7): that write is numbered,
    # and names the failed redemption that caused it.
    response = client.post(f"/v1/redemptions/{parent}/rollbacks", json={})
    assert response.status_code == 400
    response = client.post(
        "/v1/redemptions",
        json={"redeemables": [{"object": "voucher", "id": "NO-SUCH"}], "order": {"id": order_id}},
    )
    assert response.status_code == 400
    refused = events(client)[len(found) + len(rolled) :]
    assert types(refused) == [
        "customer.redemption.rollback.failed",
        "customer.order.updated",
        "customer.redemption.failed",
    ]
    assert [(e["order_id"], e["sequence"]) for e in refused] == [
        (order_id, None),
        (order_id, 9),
        (order_id, None),
    ]
    updated = refused[1]["data"]
    assert updated["redemption"]["id"] == response.json()["resource_id"]
    assert updated["redemption"]["result"] == "FAILURE"
    assert updated["order"]["status"] == "CANCELED"  # as the rollback left it
    # The order events of any redemption print its nulls (tracking_id, redemption), which
    # RedemptionInternal does not declare nullable: checked without them, as above.
    shown = {k: v for k, v in updated["redemption"].items() if v is not None}
    assert_event_data({**updated, "redemption": shown}, "EventCustomerOrderUpdated")


def test_a_request_that_rolls_back_leaves_no_event(client: AppClient) -> None:
    """The redeeming customer is created (its event recorded) and the voucher's use taken
    before the order's customer turns out not to exist: the whole request rolls back, its
    events with it."""
    _voucher(client, "EV-RB", 100)
    before = snapshot(client.db)
    response = client.post(
        "/v1/redemptions",
        json={
            "redeemables": [{"object": "voucher", "id": "EV-RB"}],
            "customer": {"source_id": "ev-new-redeemer"},
            "order": {"amount": 1000, "customer": {"id": "cust_doesnotexist0000000000"}},
        },
    )
    assert response.status_code == 404, response.text
    assert snapshot(client.db) == before
    assert events(client) == []


def test_imports_emit_no_events(client: AppClient) -> None:
    orders = [
        {"source_id": f"imp-{i}", "amount": 100, "status": "PAID", "customer": {"source_id": "c"}}
        for i in range(3)
    ]
    response = client.post("/v1/orders/import", json=orders)
    assert response.status_code == 200, response.text
    action = wait_until_finished(
        client, f"/v1/async-actions/{response.json()['async_action_id']}", ("DONE", "FAILED")
    )
    assert action["status"] == "DONE", action
    assert client.get("/v1/orders/imp-2").status_code == 200
    assert events(client) == []


def test_the_order_events_of_one_request_store_their_data_once(client: AppClient) -> None:
    """A paid create's customer.order.created and .paid show the same data: stored in the
    first, named by the second, and put back by every reader, in pages with the first and
    in pages without it."""
    order, _ = create_order(
        client,
        {"source_id": "once-1", "amount": 700, "status": "PAID", "customer": {"source_id": "o"}},
    )
    customer_created, created, paid = events(client)
    assert (created["type"], paid["type"]) == ("customer.order.created", "customer.order.paid")
    assert paid["data"] == created["data"] and created["data"]["order"] == order
    stored_events = tables.events
    with client.db.transaction(write=False) as conn:
        stored = {
            row.id: (row.data, row.same_data_as)
            for row in conn.execute(
                sa.select(stored_events.c.id, stored_events.c.data, stored_events.c.same_data_as)
            )
        }
    assert stored == {
        customer_created["id"]: (customer_created["data"], None),
        created["id"]: (created["data"], None),
        paid["id"]: (None, created["id"]),
    }
    assert events(client, type="customer.order.paid") == [paid]
    assert client.get(f"/v1/events/{paid['id']}").json() == paid
    newest = client.get("/v1/customers/o/activity", params={"limit": 1}).json()["data"]
    assert [(a["id"], a["data"]["data"]) for a in newest] == [(paid["id"], created["data"])]
    # Data that differs is never shared: another request's events of the same order.
    client.put(f"/v1/orders/{order['id']}", json={"status": "CANCELED"})
    updated, canceled = events(client, order_id=order["id"])[2:]
    assert updated["data"] == canceled["data"] != created["data"]
    with client.db.transaction(write=False) as conn:
        shared = dict(
            conn.execute(
                sa.select(stored_events.c.id, stored_events.c.same_data_as).where(
                    stored_events.c.id.in_([updated["id"], canceled["id"]])
                )
            ).all()
        )
    assert shared == {updated["id"]: None, canceled["id"]: updated["id"]}


def test_order_events_of_one_request_that_differ_keep_their_own_data(client: AppClient) -> None:
    """One recording that saves an order twice, the second time with a customer: its
    events show different customers, so none of them shows another's stored data."""
    now = datetime.now(UTC)
    project_id = client.project.project_id
    with (
        client.db.transaction(write=True) as conn,
        recording(Source("API", None, "v-twice")) as recorder,
    ):
        order = orders.create(
            conn,
            project_id=project_id,
            body=OrderCreate(source_id="twice", amount=10, status="PAID"),
            now=now,
        )
        orders.update(
            conn,
            project_id=project_id,
            ref=order["id"],
            body=OrderUpdate(customer=CustomerRef(source_id="later")),
            now=now,
        )
        events_service.write(conn, recorder)
    found = events(client, order_id=order["id"])
    assert types(found) == [
        "customer.order.created",
        "customer.order.paid",
        "customer.order.updated",
    ]
    assert found[0]["data"] == found[1]["data"] != found[2]["data"]
    assert found[2]["data"]["customer"]["source_id"] == "later"
    stored_events = tables.events
    with client.db.transaction(write=False) as conn:
        shared = dict(
            conn.execute(
                sa.select(stored_events.c.id, stored_events.c.same_data_as).where(
                    stored_events.c.order_id == order["id"]
                )
            ).all()
        )
    assert shared == {found[0]["id"]: None, found[1]["id"]: found[0]["id"], found[2]["id"]: None}


def test_listing_pages_and_filters(client: AppClient) -> None:
    for i in range(12):
        create_order(client, {"source_id": f"page-{i}", "amount": 100 + i})
    found = events(client)
    assert len(found) == 12 and len({e["id"] for e in found}) == 12
    assert [e["data"]["order"]["source_id"] for e in found] == [f"page-{i}" for i in range(12)]
    bad = client.get("/v1/events", params={"starting_after": "evcus_unknown"})
    assert bad.status_code == 400 and bad.json()["key"] == "invalid_query_params"
    one = client.get(f"/v1/events/{found[3]['id']}")
    assert one.status_code == 200 and one.json() == found[3]
    # Another project sees none of them.
    other = client.as_project(client.new_project("elsewhere"))
    assert other.get("/v1/events").json()["events"] == []
    assert other.get(f"/v1/events/{found[3]['id']}").status_code == 404
    assert other.get("/v1/events", params={"starting_after": found[3]["id"]}).status_code == 400


def test_customer_activity(client: AppClient) -> None:
    for i in range(3):
        create_order(
            client, {"source_id": f"act-{i}", "amount": 100, "customer": {"source_id": "act"}}
        )
    create_order(client, {"source_id": "act-other", "amount": 1, "customer": {"source_id": "x"}})
    response = client.get("/v1/customers/act/activity", params={"limit": 2})
    assert response.status_code == 200, response.text
    page = response.json()
    assert_matches(page, file="customers", schema="CustomersActivityListResponseBody")
    assert page["has_more"] is True
    newest_first = [a["data"]["data"]["order"]["source_id"] for a in page["data"]]
    assert newest_first == ["act-2", "act-1"]
    rest = client.get(
        "/v1/customers/act/activity",
        params={"starting_after_id": page["more_starting_after"], "limit": 10},
    ).json()
    assert [a["type"] for a in rest["data"]] == ["customer.order.created", "customer.created"]
    assert rest["has_more"] is False
    oldest_first = client.get(
        "/v1/customers/act/activity", params={"order": "created_at", "type": "customer.created"}
    ).json()
    assert [a["type"] for a in oldest_first["data"]] == ["customer.created"]
    assert client.get("/v1/customers/nobody/activity").status_code == 404
    refused = client.get("/v1/customers/act/activity", params={"campaign_id": "camp_1"})
    assert refused.status_code == 400


@pytest.mark.parametrize("migrated_db_url", ["postgresql"], indirect=True)
def test_a_cursor_never_passes_an_event_still_being_committed(client: AppClient) -> None:
    """PostgreSQL numbers rows when they are written, not when they commit: an event
    written by a transaction still running must not be overtaken by a later one a reader
    already paged past."""
    from tally.events.tables import events as events_table

    create_order(client, {"source_id": "gap-0", "amount": 1})
    engine = sa.create_engine(client.db_url)
    try:
        slow = engine.connect()
        transaction = slow.begin()
        slow.execute(
            events_table.insert().values(
                id="evcus_slowwriter000000",
                project_id=client.project.project_id,
                type="customer.updated",
                entity_id="cust_x",
                channel="API",
                data={},
                created_at=sa.func.now(),
            )
        )
        create_order(client, {"source_id": "gap-1", "amount": 1})
        seen = events(client)
        # The later order's event waits behind the transaction that is still running.
        assert [e["data"]["order"]["source_id"] for e in seen] == ["gap-0"]
        transaction.commit()
        slow.close()
        after = events(client, starting_after=seen[-1]["id"])
        assert after[0]["id"] == "evcus_slowwriter000000"
        assert after[1]["data"]["order"]["source_id"] == "gap-1"
    finally:
        engine.dispose()


def test_sqlite_pages_from_the_cursor_not_from_the_start(tmp_path: Path) -> None:
    """SQLite uses a (txid, seq) pair comparison only as txid > ?, so a page after a
    cursor walked every earlier event; the query must name the index range itself."""
    from tally.db.engine import Database
    from tally.db.migrate import upgrade
    from tally.events.repository import past
    from tally.events.tables import events

    url = f"sqlite:///{tmp_path}/plan.db"
    upgrade(url)
    db = Database(url, pool_size=1)
    try:
        with db.transaction(write=False) as conn:
            query = (
                sa.select(events.c.seq)
                .where(events.c.project_id == "p", past(conn, (0, 100)))
                .order_by(events.c.txid, events.c.seq)
                .limit(10)
            )
            compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").fetchall()
    finally:
        db.dispose()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "txid=? AND seq>?" in detail, detail
