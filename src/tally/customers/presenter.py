"""Customer rows as the API prints them (CustomerWithSummaryLoyaltyReferrals)."""

from collections.abc import Mapping, Sequence
from typing import Any

from tally.clock import iso
from tally.customers.service import average


def customer_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    total = row["orders_total_amount"]
    count = row["orders_total_count"]
    orders_summary: dict[str, Any] = {
        "total_amount": total,
        "total_count": count,
        "average_amount": average(total, count),
        "last_order_amount": row["orders_last_amount"],
    }
    if row["orders_last_date"] is not None:
        orders_summary["last_order_date"] = iso(row["orders_last_date"])
    # summary.redemptions: what tally.customers.service.redemption_counter counts.
    succeeded = row["redemptions_total_succeeded"]
    failed = row["redemptions_total_failed"]
    rollback_succeeded = row["redemptions_total_rollback_succeeded"]
    rollback_failed = row["redemptions_total_rollback_failed"]
    # The schema types source_id and updated_at as plain strings: absent rather than null.
    out: dict[str, Any] = {"id": row["id"]}
    for name in (
        "source_id",
        "name",
        "description",
        "email",
        "phone",
        "birthday",
        "birthdate",
        "address",
    ):
        if row[name] is not None:
            out[name] = row[name]
    out.update(
        {
            "metadata": row["metadata"] or {},
            "summary": {
                "redemptions": {
                    "total_redeemed": succeeded + failed,
                    "total_failed": failed,
                    "total_succeeded": succeeded,
                    "total_rolled_back": rollback_succeeded + rollback_failed,
                    "total_rollback_failed": rollback_failed,
                    "total_rollback_succeeded": rollback_succeeded,
                    "gift": {"redeemed_amount": 0, "amount_to_go": 0},
                    "loyalty_card": {"redeemed_points": 0, "points_to_go": 0},
                },
                "orders": orders_summary,
            },
            "loyalty": {"points": 0, "referred_customers": 0, "campaigns": {}},
            "referrals": {"total": 0, "campaigns": []},
            "system_metadata": {},
            "created_at": iso(row["created_at"]),
        }
    )
    if row["updated_at"] is not None:
        out["updated_at"] = iso(row["updated_at"])
    out["object"] = "customer"
    return out


def customers_page(
    rows: Sequence[Mapping[Any, Any]], total: int, *, limit: int, page: int
) -> dict[str, Any]:
    return {
        "object": "list",
        "data_ref": "customers",
        "customers": [customer_json(row) for row in rows],
        "total": total,
        "has_more": (page - 1) * limit + len(rows) < total,
    }
