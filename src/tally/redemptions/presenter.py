"""Redemptions and rollbacks as the API prints them (redemptions.json)."""

from collections.abc import Mapping, Sequence
from typing import Any

from tally.clock import iso
from tally.orders import presenter as orders
from tally.redemptions.rollbacks import RolledBack
from tally.redemptions.service import Redeemed, Refused
from tally.validations import presenter as validations


def redemption_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A redemption or a rollback (RedemptionBase, RedemptionRollback)."""
    rollback = row["object"] == "redemption_rollback"
    out: dict[str, Any] = {
        "id": row["id"],
        "object": row["object"],
        "date": iso(row["created_at"]),
        "customer_id": row["customer_id"],
        "tracking_id": row["tracking_id"],
        "metadata": row["metadata"],
        # A child: its parent redemption. A rollback: the redemption it rolls back.
        "redemption": row["redemption_id"] if rollback else row["parent_id"],
    }
    if rollback and row["reason"] is not None:
        out["reason"] = row["reason"]
    out["result"] = row["result"]
    out["status"] = row["status"]
    if row["result"] == "FAILURE":
        out["failure_code"] = row["failure_code"]
        out["failure_message"] = row["failure_message"]
    out["order"] = row["order"]
    out["channel"] = {"channel_id": row["channel_id"], "channel_type": "API"}
    out["customer"] = row["customer"]
    out["related_object_type"] = row["related_object_type"]
    out["related_object_id"] = row["related_object_id"]
    if row["related_object"] is not None:
        out[row["related_object_type"]] = row["related_object"]
    return out


def redeem_json(result: Redeemed) -> dict[str, Any]:
    out: dict[str, Any] = {"redemptions": [redemption_json(row) for row in result.children]}
    if result.parent is not None:
        out["parent_redemption"] = redemption_json(result.parent)
    out["order"] = validations.with_applied(orders.order_json(result.order), result.applied)
    if result.inapplicable:
        out["inapplicable_redeemables"] = [
            validations.redeemable_json(o) for o in result.inapplicable
        ]
    if result.skipped:
        out["skipped_redeemables"] = [validations.redeemable_json(o) for o in result.skipped]
    return out


def one_redemption_json(result: Redeemed) -> dict[str, Any]:
    """The legacy one-redeemable endpoints: the redemption, with the whole order."""
    (child,) = result.children
    out = redemption_json(child)
    out["order"] = validations.with_applied(orders.order_json(result.order), result.applied)
    return out


def refused_json(result: Refused) -> dict[str, Any]:
    """The 400 of a redemption that applied nothing: the refusal, pointing at the failed
    redemption recorded (BEHAVIOR 8.8, 10.8)."""
    error = result.error
    out: dict[str, Any] = {
        "code": 400,
        "key": error["key"],
        "message": error["message"],
        "details": error["details"],
        "request_id": error["request_id"],
        "resource_id": result.record["id"],
        "resource_type": "redemption",
    }
    return out


def redemptions_page(rows: Sequence[Mapping[str, Any]], total: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data_ref": "redemptions",
        "redemptions": [redemption_json(row) for row in rows],
        "total": total,
    }


def rollbacks_json(result: RolledBack) -> dict[str, Any]:
    """The plural endpoint: a lone redemption's rollback has no parent (BEHAVIOR 12.5)."""
    out: dict[str, Any] = {"rollbacks": [redemption_json(row) for row in result.rollbacks]}
    if result.parent is not None:
        out["parent_rollback"] = redemption_json(result.parent)
    out["order"] = orders.order_json(result.order)
    return out


def rollback_json(result: RolledBack) -> dict[str, Any]:
    """The singular endpoint: the rollback, with the whole order."""
    (row,) = result.rollbacks
    out = redemption_json(row)
    out["order"] = orders.order_json(result.order)
    return out
