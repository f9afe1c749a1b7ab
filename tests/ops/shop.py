"""A small shop written through the API (orders with items, customers, products, vouchers,
a stacked redemption and a rollback, an import, an export, an idempotent request, a
webhook with its deliveries), and what the API answers about it: equal answers on two
databases mean the same data as the API sees it."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from support.polling import wait_until_finished
from support.receiver import Receiver


class Client(Protocol):
    """The in-process app as one project: an AppClient, or one of its as_project clients."""

    def get(self, url: str, **kwargs: Any) -> Any: ...
    def post(self, url: str, **kwargs: Any) -> Any: ...
    def put(self, url: str, **kwargs: Any) -> Any: ...


def release_connections() -> None:
    """Close the SQLite connections a stopped in-process app leaves behind: some are only
    closed when collected, and until then this process has the database open (a restore
    or a copy rightly refuses it)."""
    gc.collect()


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def orders(client: Client, count: int, *, prefix: str = "o") -> None:
    for n in range(count):
        ok(
            client.post(
                "/v1/orders",
                json={
                    "source_id": f"{prefix}-{n}",
                    "status": "PAID" if n % 2 else "CREATED",
                    "customer": {"source_id": f"{prefix}-cust-{n % 3}", "name": f"Name {n}"},
                    "items": [
                        {
                            "source_id": f"sku-{n % 2}",
                            "related_object": "product",
                            "quantity": n + 1,
                            "product": {"name": f"Mug {n % 2}", "price": 1250, "override": True},
                        }
                    ],
                    "metadata": {"n": n, "ratio": n / 8, "nothing": None, "é": "ü"},
                },
            )
        )


def shop(client: Client, receiver: Receiver | None = None) -> None:
    """Everything the shop writes, waiting for what runs in the background."""
    if receiver is not None:
        ok(client.post("/v1/webhooks", json={"url": receiver.url(), "events": ["*"]}))
    orders(client, 6)
    ok(
        client.post(
            "/v1/vouchers/TENOFF",
            json={"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1000}},
        )
    )
    ok(
        client.post(
            "/v1/vouchers/HALF",
            json={"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 50}},
        )
    )
    stacked = {
        "redeemables": [
            {"object": "voucher", "id": "TENOFF"},
            {"object": "voucher", "id": "HALF"},
        ],
        "order": {"source_id": "o-1", "amount": 5000},
        "customer": {"source_id": "o-cust-1"},
        "metadata": {"channel": "web"},
    }
    ok(client.post("/v1/redemptions", json=stacked, headers={"Idempotency-Key": "redeem-1"}))
    lone = ok(
        client.post(
            "/v1/redemptions",
            json={"redeemables": [{"object": "voucher", "id": "HALF"}], "order": {"amount": 800}},
        )
    )
    ok(client.post(f"/v1/redemptions/{lone['redemptions'][0]['id']}/rollback"))
    ok(client.put("/v1/customers/o-cust-2", json={"email": "two@example.com"}))
    action = ok(
        client.post(
            "/v1/orders/import",
            json=[{"source_id": f"imported-{n}", "amount": 100 + n} for n in range(3)],
        )
    )
    wait_until_finished(client, f"/v1/async-actions/{action['async_action_id']}", ("DONE",))
    export = ok(client.post("/v1/orders/export", json={"parameters": {"fields": ["id", "amount"]}}))
    wait_until_finished(client, f"/v1/exports/{export['id']}", ("DONE",))
    if receiver is not None:
        wait_delivered(client)


def wait_delivered(client: Client) -> None:
    """Until every event has been delivered to every endpoint (no delivery in flight)."""
    import time

    deadline = time.monotonic() + 30
    while True:
        hooks = ok(client.get("/v1/webhooks"))["webhooks"]
        events = len(all_events(client))
        settled = True
        for hook in hooks:
            found = ok(client.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 100}))
            listed = found["deliveries"]
            if len(listed) < events or any(d["status"] != "SUCCEEDED" for d in listed):
                settled = False
        if settled:
            return
        assert time.monotonic() < deadline, "deliveries did not settle"
        time.sleep(0.05)


def all_events(client: Client) -> list[dict[str, Any]]:
    """Every event, oldest first, paged as a consumer pages: with ``starting_after``."""
    found: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": 7}
        if found:
            params["starting_after"] = found[-1]["id"]
        page = ok(client.get("/v1/events", params=params))
        found.extend(page["events"])
        if not page["has_more"]:
            return found


def answers(client: Client) -> dict[str, Any]:
    """What the API says about the shop."""
    said: dict[str, Any] = {
        "orders": ok(client.get("/v1/orders", params={"limit": 100, "order": "created_at"})),
        "order": ok(client.get("/v1/orders/o-1")),
        "customers": ok(client.get("/v1/customers", params={"limit": 100})),
        "customer": ok(client.get("/v1/customers/o-cust-1")),
        "activity": ok(client.get("/v1/customers/o-cust-1/activity", params={"limit": 100})),
        "redemptions": ok(client.get("/v1/redemptions", params={"limit": 100})),
        "vouchers": [ok(client.get(f"/v1/vouchers/{code}")) for code in ("TENOFF", "HALF")],
        "events": all_events(client),
        "async_actions": ok(client.get("/v1/async-actions")),
        "exports": ok(client.get("/v1/exports")),
        "webhooks": ok(client.get("/v1/webhooks")),
    }
    for export in said["exports"]["exports"]:
        download = client.get(f"/v1/exports/{export['id']}", headers={"Accept": "text/csv"})
        assert download.status_code == 200, download.text
        said[f"export {export['id']}"] = download.text
    for hook in said["webhooks"]["webhooks"]:
        said[f"deliveries {hook['id']}"] = ok(
            client.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 100})
        )
    return said


@contextmanager
def held_open(database: Path, table: str) -> Iterator[None]:
    """Another process with ``database`` open in WAL mode (as a server keeps it), having
    read ``table``, until the block ends."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=WAL')\n"
            f"c.execute('SELECT count(*) FROM {table}').fetchall()\n"
            "print('open', flush=True); time.sleep(60)\n",
            str(database),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        yield
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
