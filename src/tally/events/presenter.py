"""Events as GET /v1/events and the customer activity print them."""

from collections.abc import Mapping, Sequence
from typing import Any

from tally.clock import iso
from tally.events.recorder import event_source


def event_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """An event as Tally's own GET /v1/events prints it (the webhook envelope's ``event``,
    with its ``data``)."""
    return {
        "id": row["id"],
        "object": "event",
        "type": row["type"],
        "created_at": iso(row["created_at"]),
        "entity_id": row["entity_id"],
        "order_id": row["order_id"],
        "customer_id": row["customer_id"],
        "sequence": row["sequence"],
        "group_id": row["group_id"],
        "event_source": event_source(row["channel"], row["app_id"]),
        "data": row["data"],
    }


def events_page(rows: Sequence[Mapping[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data_ref": "events",
        "events": [event_json(row) for row in rows],
        "has_more": has_more,
    }


def activity_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """CustomerActivity (list-customer-activity)."""
    return {
        "id": row["id"],
        "type": row["type"],
        "data": {"data": row["data"], "event_source": event_source(row["channel"], row["app_id"])},
        "created_at": iso(row["created_at"]),
        "group_id": row["group_id"],
    }


def activity_page(rows: Sequence[Mapping[str, Any]], has_more: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "object": "list",
        "data_ref": "data",
        "data": [activity_json(row) for row in rows],
        "has_more": has_more,
    }
    if has_more and rows:
        out["more_starting_after"] = rows[-1]["id"]
    return out
