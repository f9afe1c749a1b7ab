"""Exports as the API prints them (exports.json)."""

from collections.abc import Mapping, Sequence
from typing import Any

from tally.clock import iso


def export_json(row: Mapping[Any, Any], base_url: str) -> dict[str, Any]:
    result = None
    if row["status"] == "DONE" and row["token"]:
        result = {"url": f"{base_url}/v1/exports/{row['id']}?token={row['token']}"}
    return {
        "id": row["id"],
        "object": "export",
        "created_at": iso(row["created_at"]),
        "status": row["status"],
        "channel": row["channel"],
        "exported_object": row["exported_object"],
        "parameters": row["parameters"] or {},
        "result": result,
        "user_id": None,
    }


def exports_page(rows: Sequence[Mapping[Any, Any]], total: int, base_url: str) -> dict[str, Any]:
    return {
        "object": "list",
        "data_ref": "exports",
        "exports": [export_json(row, base_url) for row in rows],
        "total": total,
    }
