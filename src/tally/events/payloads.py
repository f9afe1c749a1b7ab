"""Event data in the spec's shapes (BEHAVIOR 20.3, openapi/customers.json ``EventCustomer*``),
built from the rows as the request leaves them."""

from collections.abc import Mapping
from typing import Any

import orjson

from tally.customers.presenter import customer_json
from tally.events.recorder import Pending
from tally.orders.presenter import order_json
from tally.redemptions.presenter import redemption_json
from tally.redemptions.service import simple_customer


def customer_ids(event: Pending) -> set[str]:
    """The customers whose rows the event's data shows."""
    found: set[str | None] = set()
    if event.type.startswith("customer.order."):
        assert event.order is not None
        found |= {event.order["customer_id"], event.order["referrer_id"]}
    elif event.redemption is not None:
        found.add(event.redemption["customer_id"])
    elif event.customer is not None and event.type != "customer.deleted":
        found.add(event.customer["id"])
    return {c for c in found if c is not None}


def subject(event: Pending) -> tuple[str, str | None, str | None]:
    """(entity_id, order_id, customer_id) of an event: what it is about, the order whose
    sequence it takes, and the customer whose activity lists it."""
    if event.type.startswith("customer.order."):
        assert event.order is not None
        return event.order["id"], event.order["id"], event.order["customer_id"]
    if event.redemption is not None:
        record = event.rollback if event.rollback is not None else event.redemption
        order_id = event.order["id"] if event.order is not None else None
        return record["id"], order_id, event.redemption["customer_id"]
    assert event.customer is not None
    return event.customer["id"], None, event.customer["id"]


def shows_order(event: Pending) -> bool:
    """Whether the event's data is its order's (the customer.order.* events)."""
    return event.type.startswith("customer.order.")


def data(
    event: Pending,
    customers: Mapping[str, Mapping[str, Any]],
    causes: Mapping[str, Mapping[str, Any]],
    printed: dict[str, Any],
) -> dict[str, Any]:
    """The event's ``data``; ``customers`` by id (as the request left them), ``causes`` the
    redemption behind each order's events; ``printed``: orders as JSON by id (or as
    :class:`orjson.Fragment`, serialised already), filled as they are printed (a request's
    order events all show the order as it left it)."""
    if shows_order(event):
        order = event.order
        assert order is not None
        cause = causes.get(order["id"])
        if order["id"] not in printed:
            printed[order["id"]] = orjson.Fragment(orjson.dumps(order_json(order)))
        return {
            "customer": _simple(customers, order["customer_id"]),
            "referrer": _simple(customers, order["referrer_id"]),
            "order": printed[order["id"]],
            "redemption": redemption_json(cause) if cause is not None else None,
        }
    if event.redemption is not None:
        record = event.redemption
        out: dict[str, Any] = {
            "customer": _simple(customers, record["customer_id"]),
            "order": record["order"],
        }
        related = record["related_object"]
        if related is not None:
            # The voucher or promotion tier redeemed, as the redemption printed it.
            out[record["related_object_type"]] = related
        out["redemption"] = _simple_redemption(record)
        if event.rollback is not None:
            out["redemption_rollback"] = _simple_redemption(event.rollback)
        return out
    assert event.customer is not None
    fresh = customers.get(event.customer["id"], event.customer)
    return {"customer": customer_json(fresh)}


def _simple_redemption(record: Mapping[str, Any]) -> dict[str, Any]:
    """A redemption or rollback as the API prints it, in SimpleRedemption's types (its
    strings are never null: unset ones are left out)."""
    return {k: v for k, v in redemption_json(record).items() if v is not None}


def _simple(customers: Mapping[str, Mapping[str, Any]], customer_id: str | None) -> Any:
    if customer_id is None:
        return None
    return simple_customer(customers.get(customer_id))
