"""Order rows as the API prints them (OrderCalculated, BEHAVIOR 4.4-4.6)."""

from collections.abc import Mapping, Sequence
from typing import Any

from tally.clock import iso

# Line fields printed only when they hold a value; the amount fields are always printed.
_OPTIONAL_LINE_FIELDS = ("sku_id", "product_id", "related_object", "source_id", "quantity")


def line_json(line: dict[str, Any]) -> dict[str, Any]:
    # Each field looked up once, through a local: a validation prints 20 lines and a
    # list page 300, and the lookups were most of the cost.
    get = line.get
    out: dict[str, Any] = {"id": line["id"]}
    for name in _OPTIONAL_LINE_FIELDS:
        value = get(name)
        if value is not None:
            out[name] = value
    discount_quantity = get("discount_quantity")
    if discount_quantity:
        out["discount_quantity"] = discount_quantity
    initial_quantity = get("initial_quantity")
    if initial_quantity is not None:
        out["initial_quantity"] = initial_quantity
    amount = get("amount") or 0
    discount = get("discount_amount") or 0
    out["amount"] = amount
    out["discount_amount"] = discount
    out["initial_amount"] = get("initial_amount") or 0
    price = get("price")
    if price is not None:
        out["price"] = price
    out["subtotal_amount"] = amount - discount if amount > discount else 0
    product = get("product")
    if product:
        out["product"] = product
    sku = get("sku")
    if sku:
        out["sku"] = sku
    out["object"] = "order_item"
    metadata = get("metadata")
    if metadata is not None:
        out["metadata"] = metadata
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
