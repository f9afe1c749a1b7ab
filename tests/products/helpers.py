"""Requests the product tests repeat, each checking the response against products.json."""

from typing import Any

import httpx

from support.inprocess import AppClient
from support.spec import assert_matches


def create(client: AppClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/products", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    assert_matches(data, file="products", schema="ProductsCreateResponseBody")
    return data


def fetch(client: AppClient, ref: str) -> dict[str, Any]:
    response = client.get(f"/v1/products/{ref}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    assert_matches(data, file="products", schema="ProductsGetResponseBody")
    return data


def listing(client: AppClient, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/products", params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    assert_matches(data, file="products", schema="ProductsListResponseBody")
    return data


def assert_error(response: httpx.Response, status: int, key: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert_matches(body, file="products", schema="Error")
    assert body["code"] == status and body["key"] == key
    assert body["message"] and body["details"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def add_sku(client: AppClient, product: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/v1/products/{product}/skus", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    assert_matches(data, file="products", schema="ProductsSkusCreateResponseBody")
    return data


def get_sku(client: AppClient, ref: str) -> dict[str, Any]:
    response = client.get(f"/v1/skus/{ref}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    assert_matches(data, file="products", schema="SkusGetResponseBody")
    return data


def list_skus(client: AppClient, product: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1/products/{product}/skus", params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    assert_matches(data, file="products", schema="ProductsSkusListResponseBody")
    return data
