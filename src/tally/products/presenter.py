"""Product and SKU rows as the API prints them (products.json: Product, Sku)."""

from collections.abc import Mapping, Sequence
from typing import Any

from tally.clock import iso


def sku_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    # Every property of the Sku schema is printed; the nullable ones as null.
    return {
        "id": row["id"],
        "source_id": row["source_id"],
        "product_id": row["product_id"],
        "sku": row["sku"],
        "price": row["price"],
        "currency": row["currency"],
        "attributes": row["attributes"] or {},
        "image_url": row["image_url"],
        "metadata": row["metadata"] or {},
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "object": "sku",
    }


def product_json(row: Mapping[Any, Any], skus: Sequence[Mapping[Any, Any]]) -> dict[str, Any]:
    """ProductWithoutSkus plus `skus`, the product's SKUs as a SkusListForProduct."""
    return {
        "id": row["id"],
        "source_id": row["source_id"],
        "name": row["name"],
        "price": row["price"],
        "attributes": row["attributes"] or [],
        "metadata": row["metadata"] or {},
        "image_url": row["image_url"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "object": "product",
        "skus": {
            "object": "list",
            "data_ref": "data",
            "data": [sku_json(sku) for sku in skus],
            "total": len(skus),
        },
    }


def products_page(
    views: Sequence[tuple[Mapping[Any, Any], Sequence[Mapping[Any, Any]]]], total: int
) -> dict[str, Any]:
    return {
        "object": "list",
        "data_ref": "products",
        "products": [product_json(row, skus) for row, skus in views],
        "total": total,
    }


def skus_page(rows: Sequence[Mapping[Any, Any]], total: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data_ref": "skus",
        "skus": [sku_json(row) for row in rows],
        "total": total,
    }
