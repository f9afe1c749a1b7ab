"""Concurrent upserts of one new source_id make one product (or SKU), never a 500.

On PostgreSQL the losing insert fails on the (project_id, source_id) key and the request's
transaction runs again (web.context.run), finding the winner's row; SQLite admits one
writer at a time."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from support.inprocess import AppClient

from .helpers import fetch, listing

RACERS = 12


def post_all(client: AppClient, path: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        return list(pool.map(lambda body: client.post(path, json=body), bodies))


def test_racing_product_upserts_make_one_product(client: AppClient) -> None:
    bodies = [{"source_id": "hot", "metadata": {"n": i}} for i in range(RACERS)]
    responses = post_all(client, "/v1/products", bodies)
    assert [r.status_code for r in responses] == [200] * RACERS, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert listing(client)["total"] == 1


def test_racing_sku_upserts_make_one_sku(client: AppClient) -> None:
    client.post("/v1/products", json={"source_id": "p"})
    bodies = [{"source_id": "hot-sku", "price": i} for i in range(RACERS)]
    responses = post_all(client, "/v1/products/p/skus", bodies)
    assert [r.status_code for r in responses] == [200] * RACERS, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert fetch(client, "p")["skus"]["total"] == 1
