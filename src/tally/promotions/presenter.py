"""Promotion tiers as the API prints them (promotions.json: PromotionTier)."""

from collections.abc import Mapping, Sequence
from typing import Any

from tally.clock import iso
from tally.validation_rules import presenter as rules

_VALIDITY = ("validity_timeframe", "validity_day_of_week", "validity_hours")


def tier_json(
    row: Mapping[Any, Any], assignments: Sequence[Mapping[Any, Any]] = ()
) -> dict[str, Any]:
    """``assignments``: the validation rules assigned to the tier."""
    campaign: dict[str, Any] = {
        "id": row["campaign_id"],
        "start_date": iso(row["campaign_start_date"]),
        "expiration_date": iso(row["campaign_expiration_date"]),
        **{key: row[f"campaign_{key}"] for key in _VALIDITY},
        "active": row["campaign_active"],
        "object": "campaign",
    }
    out: dict[str, Any] = {
        "id": row["id"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "name": row["name"],
        "banner": row["banner"],
        "action": {"discount": row["discount"]},
        "metadata": row["metadata"] or {},
        "hierarchy": row["hierarchy"],
        "promotion_id": row["campaign_id"],
        "campaign": {k: v for k, v in campaign.items() if v is not None},
        "campaign_id": row["campaign_id"],
        "active": row["active"],
        "start_date": iso(row["start_date"]),
        "expiration_date": iso(row["expiration_date"]),
        **{key: row[key] for key in _VALIDITY},
        "summary": {
            "redemptions": {"total_redeemed": row["redeemed_quantity"]},
            "orders": {
                "total_amount": row["orders_total_amount"],
                "total_discount_amount": row["orders_discount_amount"],
            },
        },
        "object": "promotion_tier",
        "validation_rule_assignments": rules.assignments_list(assignments),
        "categories": [],
    }
    # promotions.json types these without null: absent when unset.
    return {k: v for k, v in out.items() if v is not None}


def tiers_json(
    rows: Sequence[Mapping[Any, Any]],
    assigned: Mapping[str, Sequence[Mapping[Any, Any]]] | None = None,
) -> dict[str, Any]:
    assigned = assigned or {}
    return {
        "object": "list",
        "data_ref": "tiers",
        "tiers": [tier_json(row, assigned.get(row["id"], ())) for row in rows],
        "total": len(rows),
        "has_more": False,
    }
