"""Webhook endpoints, deliveries and the body a delivery sends, as JSON."""

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from tally.clock import iso
from tally.events.recorder import event_source


def webhook_json(row: Mapping[str, Any], *, with_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row["id"],
        "object": "webhook",
        "url": row["url"],
        "events": row["events"],
        "active": row["active"],
        "disabled_reason": row["disabled_reason"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }
    if with_secret:
        out["secret"] = row["secret"]
    return out


def webhooks_page(rows: Sequence[Mapping[str, Any]], total: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data_ref": "webhooks",
        "webhooks": [webhook_json(row) for row in rows],
        "total": total,
    }


def delivery_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "webhook_delivery",
        "webhook_id": row["webhook_id"],
        "event": {"id": row["event_id"], "type": row["event_type"]},
        "status": row["status"].upper(),
        "attempts": row["attempts"],
        "next_attempt_at": iso(row["next_attempt_at"]),
        "created_at": iso(row["created_at"]),
        "finished_at": iso(row["finished_at"]),
        "log": row["log"],
    }


def deliveries_page(rows: Sequence[Mapping[str, Any]], total: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data_ref": "deliveries",
        "deliveries": [delivery_json(row) for row in rows],
        "total": total,
    }


def envelope(claimed: Mapping[str, Any]) -> bytes:
    """The body of a delivery (BEHAVIOR 20.4), from a claimed delivery row: the same bytes
    on every try. Compact JSON, so Voucherify's whitespace-stripped signature is the
    signature of the body as sent."""
    created_at = iso(claimed["event_created_at"])
    body = {
        "id": claimed["id"],
        "project_id": claimed["project_id"],
        "created_at": created_at,
        "type": claimed["event_type"],
        "data": claimed["data"],
        "source": {"id": claimed["webhook_id"], "object": "webhook", "target_url": claimed["url"]},
        "event": {
            "id": claimed["event_id"],
            "type": claimed["event_type"],
            "created_at": created_at,
            "entity_id": claimed["entity_id"],
            "group_id": claimed["group_id"],
            "sequence": claimed["sequence"],
            "event_source": event_source(claimed["channel"], claimed["app_id"]),
        },
    }
    return orjson.dumps(body)
