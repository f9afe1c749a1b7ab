"""Rollbacks: give back what a redemption took (BEHAVIOR 6.7, 9.3, 12).

A lone redemption is rolled back by either endpoint; a stacked one only whole, through its
parent, on the plural endpoint. In one transaction: the redemptions are marked rolled back
(one conditional statement each, so two racing rollbacks cannot both succeed), the vouchers
get their uses back, the order loses exactly the discounts those redemptions put on it and
becomes CANCELED (or the status the body sends), and its ``redemptions`` entry records the
rollback. A second rollback records only its failed rollback (``rrf_``).

Keyword-only functions over one connection; the caller owns the transaction.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tally import ids
from tally.clock import iso, months_before
from tally.core.order_amounts import Line, order_totals
from tally.customers import repository as customers_repository
from tally.customers import service as customers
from tally.db.prepared import Row
from tally.errors import TallyError, not_found
from tally.events import recorder
from tally.orders import repository as orders_repository
from tally.orders import service as orders
from tally.orders.schemas import OrderCreate
from tally.promotions import repository as tiers_repository
from tally.redemptions import repository
from tally.redemptions.schemas import RollbackRequest
from tally.redemptions.service import simple_customer
from tally.redemptions.tables import FAILED_ROLLBACK_ID_PREFIX, ROLLBACK_ID_PREFIX
from tally.vouchers import repository as vouchers_repository

# Redemptions older than this many months cannot be rolled back (BEHAVIOR 12.3).
MAX_AGE_MONTHS = 3


@dataclass(frozen=True)
class Rollback:
    """What a request rolls back, and how."""

    project_id: str
    channel_id: str
    redemption_id: str
    body: RollbackRequest
    reason: str | None  # the body's, else the query's
    tracking_id: str | None
    stacked: bool  # the plural endpoint


@dataclass(frozen=True)
class RolledBack:
    order: dict[str, Any]
    rollbacks: list[dict[str, Any]]  # one per redemption given back (the children, or the lone)
    parent: dict[str, Any] | None  # the parent's rollback, for a stacked redemption


@dataclass(frozen=True)
class RollbackRefused:
    record: dict[str, Any]  # the failed rollback recorded
    error: TallyError


def _invalid_redemption(details: str) -> TallyError:
    return TallyError(400, "invalid_redemption", "Invalid redemption", details)


NOT_A_PARENT = TallyError(
    400,
    "invalid_redemption_parent",
    "Invalid redemption parent",
    "You can rollback only a redemption that does not have parent redemption.",
)
STACKED = _invalid_redemption(
    "You can rollback only a single redemption. Use different endpoint for stacked redemption."
)


def rollback(conn: Connection, what: Rollback, *, now: datetime) -> RolledBack | RollbackRefused:
    project_id = what.project_id
    redemption = repository.get(conn, project_id, what.redemption_id)
    if redemption is None or redemption["object"] != "redemption":
        raise not_found("redemption", what.redemption_id)
    if redemption["parent_id"] is not None:
        raise NOT_A_PARENT
    stacked = redemption["related_object_type"] == "redemption"
    if stacked and not what.stacked:
        raise STACKED
    if redemption["result"] != "SUCCESS":
        raise _invalid_redemption("A failed redemption has nothing to roll back.")
    if redemption["created_at"] < months_before(now, MAX_AGE_MONTHS):
        raise _invalid_redemption("Redemption older than 3 months cannot be rolled back")
    _check_body(what.body, redemption)

    order = orders_repository.lock(conn, project_id, redemption["order_id"])
    assert order is not None  # a successful redemption always has its order
    rollback_id = ids.new_ordered_id(ROLLBACK_ID_PREFIX)
    # The first write: of two rollbacks racing for this redemption, one gets here first.
    if not repository.mark_rolled_back(conn, project_id, redemption["id"], rollback_id):
        return _refuse(conn, what, redemption, now)

    entry = {**order["redemptions"].get(redemption["id"], {})}
    # The children, in the order they were applied: the order's entry lists them.
    stacked_ids: list[str] = (entry.get("stacked") or []) if stacked else []
    found = repository.by_ids(conn, project_id, stacked_ids)
    children = [found[child_id] for child_id in stacked_ids if child_id in found]
    given_back = children if stacked else [redemption]
    child_ids = {row["id"]: ids.new_ordered_id(ROLLBACK_ID_PREFIX) for row in children}
    for child in children:
        repository.mark_rolled_back(conn, project_id, child["id"], child_ids[child["id"]])
    _give_back_uses(conn, project_id, given_back)

    body_order = what.body.order or OrderCreate()
    kept_off, kept_lines = _kept(conn, project_id, order, redemption)
    reduced = without(order, given_back, kept_off=kept_off, kept_lines=kept_lines)
    entry["rollback_id"] = rollback_id
    entry["rollback_date"] = iso(now)
    if stacked:
        entry["rollback_stacked"] = [child_ids[row["id"]] for row in children]
    reduced["redemptions"] = {**order["redemptions"], redemption["id"]: entry}
    reduced["status"] = "CANCELED"
    # Other order fields in the body change the order as an update would (BEHAVIOR 12.2);
    # its status, when sent, replaces CANCELED.
    changed = orders.draft_over(
        conn, project_id=project_id, current=reduced, body=body_order, now=now, write=True
    )
    saved = orders.save(
        conn,
        project_id=project_id,
        draft=orders.Draft(row=changed.row, lines=changed.lines, current=order),
        body=body_order,
        now=now,
    )

    customer: Mapping[str, Any] | None = None
    if what.body.customer is not None:
        customer = customers.upsert(conn, project_id=project_id, ref=what.body.customer, now=now)
    elif redemption["customer_id"] is not None:
        customer = customers_repository.get_by_id(conn, project_id, redemption["customer_id"])
    snapshot = _order_snapshot(saved)
    common = {
        "project_id": project_id,
        "object": "redemption_rollback",
        "rollback_id": None,
        "created_at": now,
        "result": "SUCCESS",
        "status": "SUCCEEDED",
        "failure_code": None,
        "failure_message": None,
        "reason": what.reason,
        "order_id": saved["id"],
        "customer_id": redemption["customer_id"],
        "tracking_id": what.tracking_id or redemption["tracking_id"],
        "metadata": what.body.metadata or {},
        "channel_id": what.channel_id,
        "customer": simple_customer(customer),
        "order": snapshot,
        "applied": None,
    }
    rollbacks = [
        {
            **common,
            **_related(row),
            "id": child_ids[row["id"]] if stacked else rollback_id,
            "parent_id": rollback_id if stacked else None,
            "redemption_id": row["id"],
        }
        for row in given_back
    ]
    parent = None
    if stacked:
        parent = {
            **common,
            **_related(redemption),
            "id": rollback_id,
            "parent_id": None,
            "redemption_id": redemption["id"],
        }
    repository.insert_many(conn, [*([parent] if parent else []), *rollbacks])
    customers.count_redemptions(conn, project_id=project_id, records=rollbacks)
    recorder.rolled_back(
        project_id,
        [
            ({**row, "status": "ROLLED_BACK", "rollback_id": rollback["id"]}, rollback)
            for row, rollback in zip(given_back, rollbacks, strict=True)
        ],
        saved,
        parent or rollbacks[0],
        now,
    )
    return RolledBack(order=saved, rollbacks=rollbacks, parent=parent)


def _give_back_uses(conn: Connection, project_id: str, given_back: list[Row]) -> None:
    """Vouchers get their use back; promotion tiers' summaries lose the redemption."""
    for row in given_back:
        if row["related_object_type"] == "voucher":
            vouchers_repository.release(conn, project_id, row["related_object_id"])
        elif row["related_object_type"] == "promotion_tier":
            applied = row["applied"] or {}
            discount = applied.get("discount_amount", 0) + sum(
                (applied.get("lines") or {}).values()
            )
            tiers_repository.count_redemption(
                conn,
                project_id,
                row["related_object_id"],
                uses=-1,
                amount=-(row["order"] or {}).get("amount", 0),
                discount=-discount,
            )


def _check_body(body: RollbackRequest, redemption: Row) -> None:
    """The body may name the redemption's own order and customer, no others (12.2)."""
    if body.order is not None and (body.order.id is not None or body.order.source_id is not None):
        named = body.order.id is not None and body.order.id != redemption["order_id"]
        snapshot = redemption["order"] or {}
        other_source = (
            body.order.id is None
            and body.order.source_id is not None
            and body.order.source_id != snapshot.get("source_id")
        )
        if named or other_source:
            raise TallyError(
                400, "invalid_order", "Invalid order", "Order is not related with redemption."
            )
    if body.customer is not None:
        ref = body.customer
        mine = redemption["customer"] or {}
        if (ref.id is not None and ref.id != redemption["customer_id"]) or (
            ref.id is None and ref.source_id is not None and ref.source_id != mine.get("source_id")
        ):
            raise TallyError(
                400,
                "invalid_customer",
                "Invalid customer",
                "Customer is not related with redemption.",
            )


def _kept(
    conn: Connection, project_id: str, order: Mapping[str, Any], redemption: Row
) -> tuple[int, dict[str, int]]:
    """The order-level discount, and each line's (by line id), that the order's other
    redemptions, not rolled back, put on it when they were made."""
    live: list[str] = []
    for key, entry in order["redemptions"].items():
        if key == redemption["id"] or entry.get("rollback_id") is not None:
            continue
        live.extend(entry.get("stacked") or [key])
    rows = repository.by_ids(conn, project_id, live) if live else {}
    off = 0
    lines: dict[str, int] = {}
    for row in rows.values():
        applied = row["applied"] or {}
        off += applied.get("discount_amount", 0)
        for line_id, part in (applied.get("lines") or {}).items():
            lines[line_id] = lines.get(line_id, 0) + part
    return off, lines


def without(
    order: Mapping[str, Any],
    given_back: list[Row],
    *,
    kept_off: int,
    kept_lines: Mapping[str, int],
) -> dict[str, Any]:
    """``order`` less what the ``given_back`` redemptions did to it: each line loses the
    discount put on it and the units added to it (by line id; a line since replaced took
    them with it), never more than it still carries; a line they added goes.

    Units are taken back only from those above what the client sent for the line: a cart
    sent again after units were added (an upsert, an update) holds what the client pays
    for. The order-level discount left is at most ``kept_off``, what the redemptions that
    stay put on it, and so is that of each line they gave back a discount on (``kept_lines``):
    an update that lowered an amount or a price capped the stored discount without saying
    whose part it took, so subtracting the given-back part could take another's."""
    by_line: dict[str, int] = {}
    units: dict[str, list[int]] = {}
    for row in given_back:
        applied = row["applied"] or {}
        for line_id, part in (applied.get("lines") or {}).items():
            by_line[line_id] = by_line.get(line_id, 0) + part
        for line_id, (added, free, value) in (applied.get("units") or {}).items():
            total = units.setdefault(line_id, [0, 0, 0])
            total[0] += added
            total[1] += free
            total[2] += value
    items = []
    lines = []
    amount = order["amount"]
    for stored in order["items"]:
        added, free, value = units.get(stored["id"], (0, 0, 0))
        quantity = stored.get("quantity")
        line_amount = stored.get("amount")
        if added and quantity is not None:
            taken = min(added, max(0, quantity - (stored.get("initial_quantity") or 0)))
            quantity -= taken
            # The added units' recorded value, for those still on the line.
            value = min(value * taken // added, line_amount or 0)
            line_amount = None if line_amount is None else line_amount - value
            amount -= value
            if quantity == 0 and not stored.get("initial_quantity"):
                continue  # a line of free units only
        discount = stored.get("discount_amount") or 0
        if stored["id"] in by_line:
            discount = min(discount, kept_lines.get(stored["id"], 0))
        item = {
            **stored,
            "quantity": quantity,
            "amount": line_amount,
            "discount_amount": min(discount, line_amount or 0),
            "discount_quantity": max(0, (stored.get("discount_quantity") or 0) - free),
        }
        items.append(item)
        lines.append(
            Line(
                quantity=item.get("quantity"),
                price=item.get("price"),
                amount=item.get("amount"),
                initial_quantity=item.get("initial_quantity"),
                initial_amount=item.get("initial_amount"),
                discount_amount=item["discount_amount"],
                discount_quantity=item["discount_quantity"],
            )
        )
    totals = order_totals(
        amount=max(0, amount),
        lines=lines,
        discount_amount=min(order["discount_amount"], kept_off),
        initial_amount=order["initial_amount"],
    )
    return {
        **order,
        "items": items,
        "amount": totals.amount,
        "discount_amount": totals.discount_amount,
        "items_discount_amount": totals.items_discount_amount,
        "total_amount": totals.total_amount,
    }


def _related(row: Row) -> dict[str, Any]:
    return {
        key: row[key]
        for key in (
            "related_object_type",
            "related_object_id",
            "related_object_parent_id",
            "voucher_code",
            "related_object",
        )
    }


def _order_snapshot(order: Mapping[str, Any]) -> dict[str, Any]:
    discount = order["discount_amount"]
    items_discount = order["items_discount_amount"]
    return {
        "id": order["id"],
        "source_id": order["source_id"],
        "status": order["status"],
        "customer_id": order["customer_id"],
        "referrer_id": order["referrer_id"],
        "amount": order["amount"],
        "discount_amount": discount,
        "items_discount_amount": items_discount,
        "total_discount_amount": discount + items_discount,
        "total_amount": order["total_amount"],
        "metadata": order["metadata"] or {},
        "object": "order",
    }


def _refuse(conn: Connection, what: Rollback, redemption: Row, now: datetime) -> RollbackRefused:
    """A second rollback: record it as failed (BEHAVIOR 12.3); nothing else changes."""
    record = {
        "id": ids.new_ordered_id(FAILED_ROLLBACK_ID_PREFIX),
        "project_id": what.project_id,
        "object": "redemption_rollback",
        "parent_id": None,
        "redemption_id": redemption["id"],
        "rollback_id": None,
        "created_at": now,
        "result": "FAILURE",
        "status": "FAILED",
        "failure_code": "already_rolled_back",
        "failure_message": "Redemption has been already rolled back.",
        "reason": what.reason,
        "order_id": redemption["order_id"],
        "customer_id": redemption["customer_id"],
        "tracking_id": what.tracking_id or redemption["tracking_id"],
        "metadata": what.body.metadata or {},
        "channel_id": what.channel_id,
        **_related(redemption),
        "customer": redemption["customer"],
        "order": redemption["order"],
        "applied": None,
    }
    repository.insert_many(conn, [record])
    customers.count_redemptions(conn, project_id=what.project_id, records=[record])
    recorder.rolled_back(
        what.project_id, [(redemption, record)], {"id": redemption["order_id"]}, None, now
    )
    error = TallyError(
        400,
        "already_rolled_back",
        "Already rolled back",
        "Redemption has been already rolled back.",
        resource_id=record["id"],
        resource_type="redemption_rollback",
    )
    return RollbackRefused(record=record, error=error)
