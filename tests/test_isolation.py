"""Two projects with the same source_ids never see each other's data, not even as a
different error."""

import asyncio
from pathlib import Path

from support.inprocess import AppClient
from tally.db.engine import Database
from tally.errors import TallyError
from tally.orders.sessions import OrderSession
from tally.web.runtime import Runtime
from tally.web.sessions import run_in_session


def test_projects_share_nothing(client: AppClient) -> None:
    other = client.as_project(client.new_project("other"))
    mine = client.post(
        "/v1/orders",
        json={
            "source_id": "same",
            "customer": {"source_id": "cus"},
            "status": "PAID",
            "items": [{"source_id": "p", "product": {"price": 100, "override": True}}],
        },
    ).json()
    theirs = other.post(
        "/v1/orders",
        json={"source_id": "same", "customer": {"source_id": "cus"}, "amount": 5},
    ).json()
    assert mine["id"] != theirs["id"]
    assert mine["customer_id"] != theirs["customer_id"]
    assert theirs["amount"] == 5 and mine["amount"] == 100

    # Each project reads its own order under the shared source_id...
    assert client.get("/v1/orders/same").json()["id"] == mine["id"]
    assert other.get("/v1/orders/same").json()["id"] == theirs["id"]
    # ...and the other's ids are simply unknown: the same 404 as an id that never existed.
    for path in (f"/v1/orders/{theirs['id']}", f"/v1/customers/{theirs['customer_id']}"):
        leaked = client.get(path)
        assert leaked.status_code == 404
        never = client.get(path.rsplit("/", 1)[0] + "/never-existed")
        assert leaked.json()["key"] == never.json()["key"] == "not_found"
        assert leaked.json()["message"] == never.json()["message"]
    assert other.get(f"/v1/orders/{mine['id']}").status_code == 404
    assert other.put(f"/v1/orders/{mine['id']}", json={"status": "CANCELED"}).status_code == 404
    upsert = other.post("/v1/orders", json={"id": mine["id"], "status": "CANCELED"})
    assert upsert.status_code == 404
    assert client.get(f"/v1/orders/{mine['id']}").json()["status"] == "PAID"

    # Lists and totals are per project.
    assert [o["id"] for o in client.get("/v1/orders").json()["orders"]] == [mine["id"]]
    assert [o["id"] for o in other.get("/v1/orders").json()["orders"]] == [theirs["id"]]
    assert client.get("/v1/customers").json()["total"] == 1
    assert other.get("/v1/customers").json()["total"] == 1
    # Summaries count only the project's own orders.
    assert client.get("/v1/customers/cus").json()["summary"]["orders"]["total_count"] == 1
    assert other.get("/v1/customers/cus").json()["summary"]["orders"]["total_count"] == 0
    # A product stored by one project is not linked by the other.
    line = other.post("/v1/orders", json={"items": [{"source_id": "p"}]}).json()["items"][0]
    assert "product_id" not in line and "price" not in line


def test_failed_request_leaves_no_count_behind(client: AppClient) -> None:
    # The customer is upserted (and counted) before the unknown product fails the request:
    # its buffered count must die with the rolled-back transaction.
    for _ in range(3):
        failed = client.post(
            "/v1/orders",
            json={"customer": {"source_id": "ghost"}, "items": [{"product_id": "prod_nope"}]},
        )
        assert failed.status_code == 404
    assert client.post("/v1/orders", json={"customer": {"source_id": "real"}}).status_code == 200
    assert client.get("/v1/customers").json()["total"] == 1
    assert client.get("/v1/orders").json()["total"] == 1
    assert client.get("/v1/customers/ghost").status_code == 404


def test_an_order_session_never_waits_for_another_project_s_order(
    db: Database, tmp_path: Path
) -> None:
    """Two requests that name source_id "same" at one moment, with fail-fast sessions: of
    one project, the second is refused (multiple_requests); of two projects, both run."""
    runtime = Runtime(db, exports_dir=tmp_path, session_wait_ms=0)

    async def create(project_id: str) -> str:
        session = OrderSession(project_id, source_ids=("same",))
        try:
            return await run_in_session(
                runtime, session, lambda conn: project_id, write=True, quick=True
            )
        except TallyError as error:
            return error.key

    async def at_once(*projects: str) -> list[str]:
        return list(await asyncio.gather(*(create(p) for p in projects)))

    assert asyncio.run(at_once("proj_1", "proj_1")) == ["proj_1", "multiple_requests"]
    assert asyncio.run(at_once("proj_1", "proj_2")) == ["proj_1", "proj_2"]
