"""Async actions as the API prints them (async-actions.json)."""

from collections.abc import Mapping, Sequence
from typing import Any

from tally.clock import iso


def action_json(row: Mapping[Any, Any], *, with_result: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row["id"],
        "type": row["type"],
        "status": row["status"],
        "operation_status": row["operation_status"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"] or row["created_at"]),
        "request_id": row["request_id"],
        "processing_time": row["processing_time"] or 0,
        "progress": row["progress"],
        "object": "async_action",
    }
    if with_result:
        out["result"] = row["result"]
    return out


def actions_page(rows: Sequence[Mapping[Any, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data_ref": "async_actions",
        "async_actions": [action_json(row, with_result=False) for row in rows],
        "has_more": has_more,
    }
