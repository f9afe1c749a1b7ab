"""Order rows as the API prints them (OrderCalculated, BEHAVIOR 4.4-4.6)."""

from collections.abc import Mapping, Sequence
from typing import Any

from tally.clock import iso

# Line fields printed only when they hold a value; the amount fields are always printed.
_OPTIONAL_LINE_FIELDS = ("sku_id", "product_id", "related_object", "source_id", "quantity")


def line_json(line: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": line["id"]}
    for name in _OPTIONAL_LINE_FIELDS:
        if line.get(name) is not None:
            out[name] = line[name]
    if line.get("discount_quantity"):
        out["discount_quantity"] = line["discount_quantity"]
    if line.get("initial_quantity") is not None:
        out["initial_quantity"] = line["initial_quantity"]
    amount = line.get("amount") or 0
    discount = line.get("discount_amount") or 0
    out["amount"] = amount
    out["discount_amount"] = discount
    out["initial_amount"] = line.get("initial_amount") or 0
    if line.get("price") is not None:
        out["price"] = line["price"]
    out["subtotal_amount"] = max(0, amount - discount)
    if line.get("product"):
        out["product"] = line["product"]
    if line.get("sku"):
        out["sku"] = line["sku"]
    out["object"] = "order_item"
    if line.get("metadata") is not None:
        out["metadata"] = line["metadata"]
    return out


def order_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    discount = row["discount_amount"]
    items_discount = row["items_discount_amount"]
    out: dict[str, Any] = {
        "id": row["id"],
        "source_id": row["source_id"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "status": row["status"],
        "amount": row["amount"],
        "initial_amount": row["initial_amount"],
        "discount_amount": discount,
        "items_discount_amount": items_discount,
        "total_discount_amount": discount + items_discount,
        "total_amount": row["total_amount"],
        "items": [line_json(line) for line in row["items"]],
        "metadata": row["metadata"] or {},
    }
    if row["customer_id"] is not None:
        out["customer"] = {"id": row["customer_id"], "object": "customer"}
    out["customer_id"] = row["customer_id"]
    if row["referrer_id"] is not None:
        out["referrer"] = {"id": row["referrer_id"], "object": "customer"}
    out["referrer_id"] = row["referrer_id"]
    out["object"] = "order"
    out["redemptions"] = row["redemptions"] or {}
    return out


def orders_page(rows: Sequence[Mapping[Any, Any]], total: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data_ref": "orders",
        "orders": [order_json(row) for row in rows],
        "total": total,
    }
