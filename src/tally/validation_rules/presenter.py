"""Validation rules and assignments as the API prints them (validation-rules.json)."""

from collections.abc import Mapping, Sequence
from typing import Any

from tally.clock import iso

_NO_ITEMS = {"excluded": [], "included": [], "included_all": False}


def rule_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "rules": row["rules"],
        "applicable_to": row["applicable_to"] or dict(_NO_ITEMS),
        "type": row["type"],
        "context_type": row["context_type"],
        "created_at": iso(row["created_at"]),
        "assignments_count": row["assignments_count"],
        "object": "validation_rules",
    }
    if row["error"] is not None:
        out["error"] = row["error"]
    if row["updated_at"] is not None:
        out["updated_at"] = iso(row["updated_at"])
    return out


def rules_page(rows: Sequence[Mapping[Any, Any]], total: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data_ref": "data",
        "data": [rule_json(row) for row in rows],
        "total": total,
    }


def assignment_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "rule_id": row["rule_id"],
        "related_object_id": row["related_object_id"],
        "related_object_type": row["related_object_type"],
        "created_at": iso(row["created_at"]),
        "object": "validation_rules_assignment",
    }


def assignments_list(rows: Sequence[Mapping[Any, Any]]) -> dict[str, Any]:
    """An object's own assignments, as a voucher or promotion tier prints them."""
    return assignments_page(rows, len(rows))


def assignments_page(rows: Sequence[Mapping[Any, Any]], total: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data_ref": "data",
        "data": [assignment_json(row) for row in rows],
        "total": total,
    }
