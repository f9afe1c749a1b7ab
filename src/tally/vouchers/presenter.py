"""Voucher rows as the API prints them (vouchers.json: Voucher)."""

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from tally.clock import iso
from tally.validation_rules import presenter as rules

# vouchers.json types these as strings or objects without null: absent when unset.
_OMITTED_WHEN_NONE = (
    "campaign",
    "campaign_id",
    "start_date",
    "expiration_date",
    "validity_timeframe",
    "validity_day_of_week",
    "validity_hours",
    "additional_info",
    "updated_at",
)


def voucher_json(
    row: Mapping[Any, Any], assignments: Sequence[Mapping[Any, Any]] = ()
) -> dict[str, Any]:
    """``assignments``: the validation rules assigned to the voucher itself."""
    code = row["code"]
    out: dict[str, Any] = {
        "id": row["id"],
        "code": code,
        "campaign": row.get("campaign_name"),
        "campaign_id": row["campaign_id"],
        "categories": [],
        "type": row["type"],
        "discount": row["discount"],
        "start_date": iso(row["start_date"]),
        "expiration_date": iso(row["expiration_date"]),
        "validity_timeframe": row["validity_timeframe"],
        "validity_day_of_week": row["validity_day_of_week"],
        "validity_hours": row["validity_hours"],
        "active": row["active"],
        "additional_info": row["additional_info"],
        "metadata": row["metadata"] or {},
        "is_referral_code": False,
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "redemption": _redemption(code, row["redemption_quantity"], row["redeemed_quantity"]),
        "validation_rules_assignments": rules.assignments_list(assignments),
        "object": "voucher",
    }
    for key in _OMITTED_WHEN_NONE:
        if out[key] is None:
            del out[key]
    return out


def _redemption(code: str, quantity: int | None, redeemed: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # No limit is no `quantity` (BEHAVIOR 10.15 calls it null; vouchers.json types it
    # integer only, so it is left out rather than printed as null).
    if quantity is not None:
        out["quantity"] = quantity
    out["redeemed_quantity"] = redeemed
    out["object"] = "list"
    out["url"] = f"/v1/vouchers/{quote(code, safe='')}/redemption?page=1&limit=10"
    return out
