"""Campaign rows as the API prints them (campaigns.json: Campaign)."""

from collections.abc import Mapping, Sequence
from typing import Any

from tally.clock import iso
from tally.promotions import presenter as promotions
from tally.validation_rules import presenter as rules

# campaigns.json types these without null: absent when unset.
_OMITTED_WHEN_NONE = (
    "voucher",
    "start_date",
    "expiration_date",
    "validity_timeframe",
    "validity_day_of_week",
    "validity_hours",
    "updated_at",
)


def campaign_json(
    row: Mapping[Any, Any],
    tiers: Sequence[Mapping[Any, Any]] | None = None,
    assigned: Mapping[str, Sequence[Mapping[Any, Any]]] | None = None,
) -> dict[str, Any]:
    """``assigned``: the validation rule assignments of the campaign and its tiers, by id."""
    out: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "campaign_type": row["campaign_type"],
        "type": row["type"],
        "voucher": row["voucher"],
        "auto_join": row["auto_join"],
        "join_once": row["join_once"],
        "use_voucher_metadata_schema": row["use_voucher_metadata_schema"],
        "start_date": iso(row["start_date"]),
        "expiration_date": iso(row["expiration_date"]),
        "validity_timeframe": row["validity_timeframe"],
        "validity_day_of_week": row["validity_day_of_week"],
        "validity_hours": row["validity_hours"],
        "vouchers_count": row["vouchers_count"],
        "active": row["active"],
        "metadata": row["metadata"] or {},
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "creation_status": "DONE",
        "vouchers_generation_status": "DONE",
        "readonly": False,
        "protected": False,
        "category_id": None,
        "categories": [],
        "validation_rules_assignments": rules.assignments_list((assigned or {}).get(row["id"], ())),
        "object": "campaign",
    }
    if tiers is not None:
        out["promotion"] = promotions.tiers_json(tiers, assigned)
    for key in _OMITTED_WHEN_NONE:
        if out[key] is None:
            del out[key]
    return out
