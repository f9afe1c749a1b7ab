"""Promotion tiers as the API prints them (promotions.json: PromotionTier)."""

from collections.abc import Mapping, Sequence
from typing import Any

from tally.clock import iso

_VALIDITY = ("validity_timeframe", "validity_day_of_week", "validity_hours")


def tier_json(row: Mapping[Any, Any]) -> dict[str, Any]:
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
        "validation_rule_assignments": {
            "object": "list",
            "data_ref": "data",
            "data": [],
            "total": 0,
        },
        "categories": [],
    }
    # promotions.json types these without null: absent when unset.
    return {k: v for k, v in out.items() if v is not None}


def tiers_json(rows: Sequence[Mapping[Any, Any]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data_ref": "tiers",
        "tiers": [tier_json(row) for row in rows],
        "total": len(rows),
        "has_more": False,
    }
