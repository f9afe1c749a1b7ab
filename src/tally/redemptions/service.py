"""Redemptions: redeem one or several discounts on an order (BEHAVIOR 8, 9, 10), read them.

A redemption first validates exactly as POST /v1/validations does, writing nothing. If a
redeemable is refused (ALL mode: one refusal refuses the request), the failed redemption is
recorded and the order the payload sends is saved as an order upsert would save it, with
no discount and no ``redemptions`` entry (BEHAVIOR 6.5, 8.7, 9.4). Otherwise, in the same
transaction: the vouchers' uses are taken, the order is saved with the discounts and its
``redemptions`` entry, and one redemption is recorded per redeemable, plus a parent when
there are several.

Keyword-only functions over one connection; the caller owns the transaction.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally import ids
from tally.campaigns import repository as campaigns_repository
from tally.clock import iso
from tally.common.filters import query_datetime
from tally.core.discounts import Applied, Cart
from tally.customers import repository as customers_repository
from tally.customers import service as customers
from tally.customers.schemas import CustomerRef
from tally.db.prepared import Row
from tally.errors import not_found
from tally.events import recorder
from tally.orders import service as orders
from tally.orders.schemas import OrderCreate
from tally.promotions import repository as tiers_repository
from tally.redemptions import repository
from tally.redemptions.tables import (
    FAILED_REDEMPTION_ID_PREFIX,
    REDEMPTION_ID_PREFIX,
    redemptions,
)
from tally.validations import service as validations
from tally.validations import stacking
from tally.validations.rule_inputs import RuleInputs, customer_of_request
from tally.validations.schemas import RedeemableIn
from tally.validations.service import Outcome
from tally.vouchers import repository as vouchers_repository


@dataclass(frozen=True)
class Redemption:
    """What a request redeems and where."""

    project_id: str
    channel_id: str  # the X-App-Id of the caller (BEHAVIOR 10.13)
    redeemables: list[RedeemableIn]
    order: OrderCreate | None
    customer: CustomerRef | None
    tracking_id: str | None
    metadata: dict[str, Any] | None


@dataclass(frozen=True)
class Redeemed:
    order: dict[str, Any]  # the stored order after the request
    applied: list[Applied]  # one per child redemption, in application order
    children: list[dict[str, Any]]  # the redemption rows, in application order
    parent: dict[str, Any] | None  # the parent redemption row, for two or more
    skipped: list[Outcome]
    inapplicable: list[Outcome]  # PARTIAL mode: refused, the others redeemed


@dataclass(frozen=True)
class Refused:
    """A redemption that applied nothing: the failed redemption recorded, and why."""

    record: dict[str, Any]
    error: dict[str, Any]  # the refusal as the validation reported it
    outcomes: list[Outcome]


def redeem(
    conn: Connection, what: Redemption, *, now: datetime, request_id: str
) -> Redeemed | Refused:
    project_id = what.project_id
    rules = stacking.for_project(conn, project_id)
    validations.check_request(what.redeemables, rules)
    preview = orders.draft(
        conn, project_id=project_id, body=what.order, now=now, write=False, lock=True
    )
    outcomes = validations.evaluate(
        conn,
        project_id=project_id,
        redeemables=what.redeemables,
        cart=validations.cart_of(preview),
        now=now,
        request_id=request_id,
        inputs=RuleInputs(
            conn, project_id, preview.row, customer_of_request(what.customer, what.order), now
        ),
        rules=rules,
    )
    # ALL mode: one refusal refuses the request. PARTIAL: only when nothing applies.
    refused = next((o for o in outcomes if o.error is not None), None)
    if rules.partial and any(o.step is not None for o in outcomes):
        refused = None
    if refused is None:
        refused = _claim_uses(conn, project_id, outcomes, request_id)
    if refused is not None:
        failed = _refuse(conn, what, refused, outcomes, preview, now)
        customers.count_redemptions(conn, project_id=project_id, records=[failed.record])
        return failed

    body = what.order or OrderCreate()
    final = orders.writable(conn, project_id=project_id, body=what.order, preview=preview, now=now)
    used = [o for o in outcomes if o.step is not None]
    if final.lines is preview.lines:
        # The order the validation computed on: its figures are the ones to save.
        steps = [o.step for o in used if o.step is not None]
    else:
        # Made again with the catalogue writes of ``override`` lines: the discounts apply
        # again, on the order as it will be written.
        steps = _reapply(conn, project_id, validations.cart_of(final), used)
    cart = steps[-1].cart if steps else validations.cart_of(final)
    redeemer = (
        customers.upsert(conn, project_id=project_id, ref=what.customer, now=now)
        if what.customer is not None
        else None
    )
    child_ids = [ids.new_ordered_id(REDEMPTION_ID_PREFIX) for _ in used]
    parent_id = ids.new_ordered_id(REDEMPTION_ID_PREFIX) if len(used) > 1 else None
    row = final.row
    row.update(orders.with_cart(row, cart, validations.products_of(used)))
    status_sent = "status" in body.model_fields_set and body.status is not None
    row["status"] = body.status if status_sent else "PAID"
    row["redemptions"] = {
        **row["redemptions"],
        **_order_entry(parent_id, child_ids, used, now),
    }
    saved = orders.save(
        conn,
        project_id=project_id,
        draft=final,
        body=body,
        now=now,
        customer_id=redeemer["id"] if redeemer is not None else None,
    )
    customer = redeemer
    if customer is None and saved["customer_id"] is not None:
        customer = customers_repository.get_by_id(conn, project_id, saved["customer_id"])
    children, parent = _records(what, saved, customer, used, steps, child_ids, parent_id, now)
    repository.insert_many(conn, [*children, *([parent] if parent else [])])
    customers.count_redemptions(conn, project_id=project_id, records=children)
    recorder.redeemed(project_id, children, saved, parent or children[0], now)
    for outcome, step in zip(used, steps, strict=True):
        if outcome.redeemable.object == "promotion_tier":
            assert outcome.source is not None
            tiers_repository.count_redemption(
                conn,
                project_id,
                outcome.source["id"],
                uses=1,
                # The order as this tier's redemption left it, as its record prints it.
                amount=step.cart.amount,
                discount=step.total_discount_amount,
            )
    return Redeemed(
        order=saved,
        applied=steps,
        children=children,
        parent=parent,
        skipped=[o for o in outcomes if o.skipped is not None],
        inapplicable=[o for o in outcomes if o.error is not None],
    )


def _records(
    what: Redemption,
    saved: Mapping[str, Any],
    customer: Mapping[str, Any] | None,
    used: list[Outcome],
    steps: list[Applied],
    child_ids: list[str],
    parent_id: str | None,
    now: datetime,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The child redemption rows, in application order, and the parent's (two or more)."""
    common = {
        "project_id": what.project_id,
        "object": "redemption",
        "redemption_id": None,
        "rollback_id": None,
        "created_at": now,
        "result": "SUCCESS",
        "status": "SUCCEEDED",
        "failure_code": None,
        "failure_message": None,
        "reason": None,
        "order_id": saved["id"],
        "customer_id": customer["id"] if customer is not None else None,
        "tracking_id": what.tracking_id,
        "metadata": what.metadata or {},
        "channel_id": what.channel_id,
        "customer": simple_customer(customer),
    }
    children = [
        {
            **common,
            "id": redemption_id,
            "parent_id": parent_id,
            **_related(outcome),
            "order": order_snapshot(saved, step.cart, [step]),
            "applied": applied_record(saved, step),
        }
        for redemption_id, outcome, step in zip(child_ids, used, steps, strict=True)
    ]
    if parent_id is None:
        return children, None
    parent = {
        **common,
        "id": parent_id,
        "parent_id": None,
        "related_object_type": "redemption",
        "related_object_id": parent_id,
        "related_object_parent_id": None,
        "voucher_code": None,
        "related_object": None,
        "order": order_snapshot(saved, steps[-1].cart, steps),
        "applied": None,
    }
    return children, parent


def get(conn: Connection, *, project_id: str, redemption_id: str) -> Row:
    row = repository.get(conn, project_id, redemption_id)
    if row is None:
        raise not_found("redemption", redemption_id)
    return row


def _reapply(conn: Connection, project_id: str, cart: Cart, used: list[Outcome]) -> list[Applied]:
    steps = []
    for outcome in used:
        assert outcome.source is not None
        step = validations.apply_discount(
            cart, validations.discount_of(conn, project_id, outcome.source), outcome.targets
        )
        steps.append(step)
        cart = step.cart
    return steps


def _claim_uses(
    conn: Connection, project_id: str, outcomes: list[Outcome], request_id: str
) -> Outcome | None:
    """Take one use of each voucher redeemed, in one statement. The validation saw a use
    left; a concurrent redemption may have taken the last since (PostgreSQL): then the uses
    taken here are given back and the first such voucher is refused with
    quantity_exceeded."""
    wanted = [o for o in outcomes if o.step is not None and o.redeemable.object == "voucher"]
    ids_ = [o.source["id"] for o in wanted if o.source is not None]
    if not ids_:
        return None
    taken = vouchers_repository.claim_all(conn, project_id, ids_)
    if len(taken) == len(ids_):
        return None
    for voucher_id in taken:
        vouchers_repository.release(conn, project_id, voucher_id)
    outcome = next(o for o in wanted if o.source is not None and o.source["id"] not in taken)
    assert outcome.source is not None
    message = "quantity exceeded"
    return Outcome(
        outcome.redeemable,
        source=outcome.source,
        error={
            "code": 400,
            "key": "quantity_exceeded",
            "message": message,
            "details": f"Voucher {outcome.source['code']}: {message}",
            "request_id": request_id,
        },
    )


def _refuse(
    conn: Connection,
    what: Redemption,
    refused: Outcome,
    outcomes: list[Outcome],
    preview: orders.Draft,
    now: datetime,
) -> Refused:
    """Record the failed redemption of the first refused redeemable (BEHAVIOR 8.7, 10.8),
    and save the order the payload sends as an order upsert would (BEHAVIOR 8.7): its
    fields over the stored order, the customer, referrer and ``override`` products it
    names upserted, the status it sends, else the stored one (a new order: CREATED,
    BEHAVIOR 6.5), its discounts and ``redemptions`` map as they were (BEHAVIOR 9.4).
    Without an order payload no order is written. The vouchers' uses, and a top-level
    ``customer`` (only looked up: it names the failed redemption's customer, and the
    order's when the order has none, BEHAVIOR 8.5), stay as they were."""
    assert refused.error is not None
    project_id = what.project_id
    customer = None
    if what.customer is not None:
        ref = what.customer.id or what.customer.source_id
        if ref is not None:
            customer = customers_repository.get(conn, project_id, ref)
    order: Mapping[str, Any] = preview.row
    cart = validations.cart_of(preview)
    if what.order is not None:
        # The payload was checked whole by the preview (an unknown order, product or SKU
        # was 404 before anything was written); an unknown customer or referrer id is 404
        # here, before the failed redemption is recorded.
        final = orders.writable(
            conn, project_id=project_id, body=what.order, preview=preview, now=now
        )
        order = orders.save(
            conn,
            project_id=project_id,
            draft=final,
            body=what.order,
            now=now,
            customer_id=customer["id"] if customer is not None else None,
        )
        cart = validations.cart_of(final)
    if customer is None and what.customer is None and order["customer_id"] is not None:
        customer = customers_repository.get_by_id(conn, project_id, order["customer_id"])
    error = refused.error
    # The error table's key for a code that does not exist (BEHAVIOR 10.14).
    failure_code = "resource_not_found" if error["key"] == "not_found" else error["key"]
    if refused.source is not None:
        related = _related(refused)
    else:
        related = {
            "related_object_type": refused.redeemable.object,
            "related_object_id": refused.redeemable.id,
            "related_object_parent_id": None,
            "voucher_code": refused.redeemable.id
            if refused.redeemable.object == "voucher"
            else None,
            "related_object": None,
        }
    record = {
        "id": ids.new_ordered_id(FAILED_REDEMPTION_ID_PREFIX),
        "project_id": project_id,
        "object": "redemption",
        "parent_id": None,
        "redemption_id": None,
        "rollback_id": None,
        "created_at": now,
        "result": "FAILURE",
        "status": "FAILED",
        "failure_code": failure_code,
        "failure_message": error.get("details") or error["message"],
        "reason": None,
        "order_id": order["id"],
        "customer_id": customer["id"] if customer is not None else None,
        "tracking_id": what.tracking_id,
        "metadata": what.metadata or {},
        "channel_id": what.channel_id,
        **related,
        "customer": simple_customer(customer),
        "order": order_snapshot(order, cart, []),
        "applied": None,
    }
    repository.insert_many(conn, [record])
    # Without an order payload no order is stored: the failed redemption names none. With
    # one, the order's events name the failed redemption that saved it (BEHAVIOR 20.3).
    stored = order if order["id"] is not None else None
    recorder.redeemed(project_id, [record], stored, record if stored is not None else None, now)
    return Refused(record=record, error=error, outcomes=outcomes)


def _order_entry(
    parent_id: str | None, child_ids: list[str], used: list[Outcome], now: datetime
) -> dict[str, dict[str, Any]]:
    """The order's ``redemptions`` entry for this request (BEHAVIOR 9.2)."""
    date = iso(now)
    if parent_id is not None:
        return {
            parent_id: {
                "date": date,
                "related_object_type": "redemption",
                "related_object_id": parent_id,
                "stacked": child_ids,
            }
        }
    (child_id,) = child_ids
    related = _related(used[0])
    entry: dict[str, Any] = {
        "date": date,
        "related_object_type": related["related_object_type"],
        "related_object_id": related["related_object_id"],
    }
    if related["related_object_parent_id"] is not None:
        entry["related_object_parent_id"] = related["related_object_parent_id"]
    return {child_id: entry}


def _related(outcome: Outcome) -> dict[str, Any]:
    """The related_object_* columns of a redemption of this redeemable."""
    source = outcome.source
    assert source is not None
    if outcome.redeemable.object == "voucher":
        return {
            "related_object_type": "voucher",
            "related_object_id": source["id"],
            "related_object_parent_id": source["campaign_id"],
            "voucher_code": source["code"],
            # vouchers.json types campaign fields without null: absent when unset.
            "related_object": {
                key: value
                for key, value in {
                    "id": source["id"],
                    "code": source["code"],
                    "campaign": source.get("campaign_name"),
                    "campaign_id": source["campaign_id"],
                    "type": source["type"],
                    "discount": source["discount"],
                    "is_referral_code": False,
                    "created_at": iso(source["created_at"]) if "created_at" in source else None,
                    "object": "voucher",
                }.items()
                if value is not None
            },
        }
    return {
        "related_object_type": "promotion_tier",
        "related_object_id": source["id"],
        "related_object_parent_id": source["campaign_id"],
        "voucher_code": None,
        "related_object": {
            "id": source["id"],
            "name": source["name"],
            "banner": source["banner"],
            "action": {"discount": source["discount"]},
            "campaign": {"id": source["campaign_id"], "object": "campaign"},
            "campaign_id": source["campaign_id"],
            "object": "promotion_tier",
        },
    }


def applied_record(order: Mapping[str, Any], step: Applied) -> dict[str, Any]:
    """What one redeemable did to the order, by line id, for its rollback: the discount it
    put on each line, and the units it added (added, made free, their value)."""
    lines: dict[str, int] = {}
    units: dict[str, list[int]] = {}
    for index, line in enumerate(order["items"]):
        if step.line_discount(index):
            lines[line["id"]] = step.line_discount(index)
        added, free = step.line_quantity(index), step.line_free(index)
        if added or free:
            units[line["id"]] = [added, free, added * (line["price"] or 0)]
    record: dict[str, Any] = {"discount_amount": step.discount_amount, "lines": lines}
    if units:
        record["units"] = units
    return record


def order_snapshot(order: Mapping[str, Any], cart: Cart, applied: list[Applied]) -> dict[str, Any]:
    """The order a redemption record prints: its figures after ``cart``, and the applied_*
    figures of ``applied`` only (BEHAVIOR 5.11)."""
    order_applied = sum(step.discount_amount for step in applied)
    items_applied = sum(step.items_discount_amount for step in applied)
    out: dict[str, Any] = {
        "id": order["id"],
        "source_id": order["source_id"],
        "status": order["status"],
        "customer_id": order["customer_id"],
        "referrer_id": order["referrer_id"],
        "amount": cart.amount,
        "discount_amount": cart.discount_amount,
        "items_discount_amount": cart.items_discount_amount,
        "total_discount_amount": cart.discount_amount + cart.items_discount_amount,
        "total_amount": cart.total_amount,
        "applied_discount_amount": order_applied,
        "items_applied_discount_amount": items_applied,
        "total_applied_discount_amount": order_applied + items_applied,
        "metadata": order["metadata"] or {},
        "object": "order",
    }
    if out["id"] is None:
        del out["id"]  # a refused redemption sent without an order: none was saved
    return out


def simple_customer(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """SimpleCustomer: the schema types its strings without null, so unset ones are left
    out."""
    if row is None:
        return None
    out: dict[str, Any] = {"id": row["id"]}
    for name in ("name", "email", "source_id"):
        if row[name] is not None:
            out[name] = row[name]
    out["metadata"] = row["metadata"] or {}
    out["object"] = "customer"
    return out


# filters[<name>][conditions][$<op>] of GET /v1/redemptions: the column each name filters.
FILTER_COLUMNS = {
    "voucher_code": "voucher_code",
    "related_object_id": "related_object_id",
    "related_object_parent_id": "related_object_parent_id",
    "parent_redemption_id": "parent_id",
    "failure_code": "failure_code",
    "result": "result",
    "object": "object",
    "customer_id": "customer_id",
}
SORTS = {
    "created_at": ("created_at", False),
    "-created_at": ("created_at", True),
    "id": ("id", False),
    "-id": ("id", True),
    "voucher_code": ("voucher_code", False),
    "-voucher_code": ("voucher_code", True),
    "tracking_id": ("tracking_id", False),
    "-tracking_id": ("tracking_id", True),
    "customer_id": ("customer_id", False),
    "-customer_id": ("customer_id", True),
}


@dataclass(frozen=True)
class Condition:
    """One filters[...] condition: ``op`` is one of CONDITIONS."""

    name: str
    op: str
    values: tuple[str, ...]


def _condition(column: sa.ColumnElement[Any], op: str, values: tuple[str, ...]) -> Any:
    value = values[0]
    if op == "is":
        return column == value
    if op == "is_not":
        return sa.or_(column.is_(None), column != value)
    if op == "in":
        return column.in_(values)
    if op == "not_in":
        return sa.or_(column.is_(None), column.not_in(values))
    if op == "has_value":
        return column.is_not(None)
    if op == "is_unknown":
        return column.is_(None)
    if op == "starts_with":
        return column.startswith(value, autoescape=True)
    if op == "ends_with":
        return column.endswith(value, autoescape=True)
    if op == "contains":
        return column.contains(value, autoescape=True)
    return sa.or_(column.is_(None), sa.not_(column.contains(value, autoescape=True)))


# FilterConditionsString's operators, without the $.
CONDITIONS = (
    "is",
    "is_not",
    "in",
    "not_in",
    "has_value",
    "is_unknown",
    "starts_with",
    "ends_with",
    "contains",
    "not_contain",
)


def list_page(
    conn: Connection,
    *,
    project_id: str,
    limit: int,
    page: int,
    order: str,
    results: list[str],
    campaign: str | None,
    customer: str | None,
    created_before: str | None,
    created_after: str | None,
    conditions: list[Condition],
    junction: str = "and",
) -> tuple[list[Row], int]:
    """Redemptions and rollbacks of the project, newest first (BEHAVIOR 10.16)."""
    table = redemptions
    where: list[Any] = []
    if results:
        where.append(table.c.result.in_(results))
    if campaign is not None:
        found = campaigns_repository.get_by_name(conn, project_id, campaign)
        where.append(table.c.related_object_parent_id == found["id"] if found else sa.false())
    if customer is not None:
        person = customers_repository.get(conn, project_id, customer)
        where.append(table.c.customer_id == person["id"] if person else sa.false())
    for text, label, before in (
        (created_before, "created_at[before]", True),
        (created_after, "created_at[after]", False),
    ):
        if text is not None:
            when = query_datetime(text, label)
            where.append(table.c.created_at < when if before else table.c.created_at > when)
    filters = [_condition(table.c[FILTER_COLUMNS[c.name]], c.op, c.values) for c in conditions]
    if filters:
        where.append(sa.or_(*filters) if junction == "or" else sa.and_(*filters))
    where.insert(0, table.c.project_id == project_id)
    rows = repository.page(conn, where, order=SORTS[order], limit=limit, page=page)
    return rows, repository.count(conn, where)
