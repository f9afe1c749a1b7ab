"""POST /v1/validations: what the redeemables would do to the order, in request order, each
on the order the ones before it left (BEHAVIOR 8.6, 10). Nothing is written.

Vouchers and promotion tiers are built as redeemables; promotion stacks, gift and loyalty
cards are refused by name. Stacking rules are the defaults (ALL mode, at most 5 applicable
redeemables).
"""

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tally import ids
from tally.core import applicable as applicable_items
from tally.core import rules as rules_core
from tally.core.discounts import Applied, Cart, Discount, Target, apply
from tally.core.rules import Facts
from tally.core.units import FreeUnits, UnitDiscount, apply_units
from tally.customers.schemas import CustomerRef
from tally.db.prepared import Row
from tally.errors import TallyError, invalid_payload, not_found
from tally.orders import service as orders
from tally.orders.schemas import OrderCreate
from tally.products import repository as catalogue
from tally.promotions import repository as promotions
from tally.validation_rules import service as validation_rules
from tally.validations import stacking
from tally.validations.rule_inputs import RuleInputs, customer_of_request
from tally.validations.schemas import RedeemableIn, ValidationRequest
from tally.vouchers import eligibility
from tally.vouchers import repository as vouchers_repository
from tally.vouchers import service as vouchers


@dataclass(frozen=True)
class Outcome:
    """One redeemable's result: applied (``step``), refused (``error``) or skipped."""

    redeemable: RedeemableIn
    # The voucher or promotion tier the redeemable names (None: not found).
    source: Mapping[str, Any] | None = None
    step: Applied | None = None
    error: dict[str, Any] | None = None
    skipped: tuple[str, str] | None = None  # (key, message)
    # What the redeemable's rules include and exclude, as printed (applicable_to and
    # inapplicable_to of an APPLICABLE redeemable).
    items: tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]] = ((), ())
    # The lines the discount could touch, to apply it again on the same lines.
    targets: Sequence[Target] | None = None


@dataclass(frozen=True)
class Validation:
    order: dict[str, Any]  # the order before this request's discounts
    start: Cart
    outcomes: list[Outcome]
    rules: stacking.StackingRules = stacking.DEFAULT

    @property
    def products(self) -> dict[str, dict[str, Any]]:
        """The products UNIT discounts give, by id: what a line they add shows."""
        return products_of(self.outcomes)

    @property
    def valid(self) -> bool:
        """ALL mode: every redeemable applies. PARTIAL: at least one does (BEHAVIOR 10.8)."""
        if self.rules.partial:
            return any(o.step is not None for o in self.outcomes)
        return all(o.error is None for o in self.outcomes)

    @property
    def applied(self) -> list[Applied]:
        """What takes effect: in ALL mode nothing unless every redeemable is applicable."""
        if not self.valid:
            return []
        return [o.step for o in self.outcomes if o.step is not None]


DUPLICATED = TallyError(
    400,
    "duplicated_redeemables",
    "Duplicated redeemables",
    "Duplicated redeemables detected in one redemption",
)


def validate(
    conn: Connection,
    *,
    project_id: str,
    body: ValidationRequest,
    now: datetime,
    request_id: str,
) -> Validation:
    rules = stacking.for_project(conn, project_id)
    check_request(body.redeemables, rules)
    draft = orders.draft(
        conn, project_id=project_id, body=body.order, now=now, write=False, keep_unknown=True
    )
    start = cart_of(draft)
    outcomes = evaluate(
        conn,
        project_id=project_id,
        redeemables=body.redeemables,
        cart=start,
        now=now,
        request_id=request_id,
        inputs=RuleInputs(
            conn, project_id, draft.row, customer_of_request(body.customer, body.order), now
        ),
        rules=rules,
    )
    return Validation(order=draft.row, start=start, outcomes=outcomes, rules=rules)


def validate_voucher(
    conn: Connection,
    *,
    project_id: str,
    code: str,
    order: OrderCreate | None,
    now: datetime,
    request_id: str,
    customer: CustomerRef | None = None,
) -> Validation:
    """POST /v1/vouchers/{code}/validate: one voucher, named by its path (unknown is 404)."""
    if vouchers.find(conn, project_id=project_id, ref=code) is None:
        raise not_found("voucher", code)
    draft = orders.draft(
        conn, project_id=project_id, body=order, now=now, write=False, keep_unknown=True
    )
    start = cart_of(draft)
    outcomes = evaluate(
        conn,
        project_id=project_id,
        redeemables=[RedeemableIn(object="voucher", id=code)],
        cart=start,
        now=now,
        request_id=request_id,
        inputs=RuleInputs(conn, project_id, draft.row, customer_of_request(customer, order), now),
    )
    return Validation(order=draft.row, start=start, outcomes=outcomes)


def tracking_id_for(project_id: str, given: str | None, customer: CustomerRef | None) -> str:
    """The tracking id a response prints: the one sent, else a hash of the customer's
    source_id (or id) within the project, as Voucherify's ``track_...``, else a new one."""
    if given is not None:
        return given
    ref = customer.source_id or customer.id if customer is not None else None
    if ref is None:
        return ids.new_id("track")
    digest = hashlib.sha256(f"{project_id}\x00{ref}".encode()).digest()
    return "track_" + base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def cart_of(draft: orders.Draft) -> Cart:
    return Cart(
        amount=draft.row["amount"],
        discount_amount=draft.row["discount_amount"],
        lines=tuple(draft.lines),
    )


def evaluate(
    conn: Connection,
    *,
    project_id: str,
    redeemables: list[RedeemableIn],
    cart: Cart,
    now: datetime,
    request_id: str,
    inputs: RuleInputs,
    rules: stacking.StackingRules = stacking.DEFAULT,
) -> list[Outcome]:
    """Each redeemable's outcome, in request order, each on the cart the applicable ones
    before it left. ALL mode: after the first refusal the rest are skipped; PARTIAL: every
    one is evaluated (BEHAVIOR 10.7, 10.8). A redeemable whose validation rules the order
    does not meet, as the ones before it left it, is refused (BEHAVIOR 16.7)."""
    codes = [r.id for r in redeemables if r.object == "voucher"]
    # Every voucher of the request in one statement (by code); ids and tiers one by one.
    by_code = vouchers_repository.get_by_codes(conn, project_id, codes) if codes else {}
    sources = [
        by_code[r.id] if r.object == "voucher" and r.id in by_code else _find(conn, project_id, r)
        for r in redeemables
    ]
    found = [source["id"] for source in sources if source is not None]
    if len(set(found)) < len(found):
        # A voucher named once by code and once by id is the same redeemable twice.
        raise DUPLICATED
    assigned = validation_rules.assigned(
        conn,
        project_id,
        [rid for source in sources if source is not None for rid in _ruled(source)],
    )
    start = cart
    outcomes: list[Outcome] = []
    applicable = 0
    for redeemable, source in zip(redeemables, sources, strict=True):
        if not rules.partial and any(o.error is not None for o in outcomes):
            outcomes.append(
                Outcome(
                    redeemable,
                    skipped=(
                        "preceding_validation_failed",
                        "Redeemable cannot be applied due to preceding validation failure",
                    ),
                )
            )
            continue
        error = _refusal(redeemable, source, cart, now, request_id)
        if error is not None:
            outcomes.append(Outcome(redeemable, source=source, error=error))
            continue
        assert source is not None
        if applicable >= rules.applicable_redeemables_limit:
            outcomes.append(
                Outcome(
                    redeemable,
                    source=source,
                    skipped=(
                        "applicable_redeemables_limit_exceeded",
                        "Applicable redeemables limit exceeded",
                    ),
                )
            )
            continue
        ruled = [rule for rid in _ruled(source) for rule in assigned.get(rid, [])]
        targets = None
        if any(not rule.items.empty for rule in ruled):
            targets = applicable_items.targets(
                [rule.items for rule in ruled], inputs.lines(cart), len(cart.lines)
            )
        step = apply_discount(cart, discount_of(conn, project_id, source), targets)
        if ruled:
            facts = inputs.facts(before=cart, after=step.cart, start=start)
            violated = _violated(redeemable, source, ruled, facts, request_id)
            if violated is not None:
                outcomes.append(Outcome(redeemable, source=source, error=violated))
                continue
        outcomes.append(
            Outcome(redeemable, source=source, step=step, items=_listed(ruled), targets=targets)
        )
        cart = step.cart
        applicable += 1
    return outcomes


def _ruled(source: Mapping[str, Any]) -> list[str]:
    """The objects whose validation rules a redeemable must meet: a voucher or a promotion
    tier, and its campaign (BEHAVIOR 16.7)."""
    return [source["id"], *([source["campaign_id"]] if source.get("campaign_id") else [])]


def _violated(
    redeemable: RedeemableIn,
    source: Mapping[str, Any],
    ruled: list[validation_rules.Assigned],
    facts: Facts,
    request_id: str,
) -> dict[str, Any] | None:
    """The error of the first rule the order does not meet, or None (BEHAVIOR 16.7, 2.6)."""
    for rule in ruled:
        if rule.document is None:
            verdict = rules_core.Verdict(False, None)
        else:
            verdict = rules_core.evaluate(rule.document, facts)
        if verdict.passed:
            continue
        kind = "Voucher" if redeemable.object == "voucher" else "Promotion Tier"
        error = _error(
            "redemption_rules_violated",
            "redemption does not match validation rules",
            f"{kind} cannot be redeemed because of violated validation rules: {rule.rule_id}",
            request_id,
        )
        message = verdict.message or rule.message
        if message is not None:
            error["error"] = {"message": message}
        return error
    return None


def discount_of(
    conn: Connection, project_id: str, source: Mapping[str, Any]
) -> Discount | UnitDiscount:
    """The stored discount of a voucher or tier as the calculation core takes it; a UNIT
    discount with its products' catalogue prices as they are now."""
    stored = source["discount"]
    if stored["type"] != "UNIT":
        return vouchers.core_discount(source)
    units = stored.get("units") or [stored]
    found = catalogue.products_by_ids(conn, project_id, {u["unit_type"] for u in units})
    return UnitDiscount(
        tuple(
            FreeUnits(
                effect=unit["effect"],
                unit_off=unit["unit_off"],
                product_id=unit["unit_type"],
                # A product deleted since: its units are still given, free of nothing.
                price=found[unit["unit_type"]]["price"] if unit["unit_type"] in found else None,
            )
            for unit in units
        )
    )


def apply_discount(
    cart: Cart, discount: Discount | UnitDiscount, targets: Sequence[Target] | None = None
) -> Applied:
    """``targets``: the lines an item effect may touch (None: every line); free units add
    their own lines and take none."""
    if isinstance(discount, UnitDiscount):
        return apply_units(cart, discount)
    return apply(cart, discount, targets)


def _listed(
    ruled: list[validation_rules.Assigned],
) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    included: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    for rule in ruled:
        stored = rule.stored_items or {}
        included.extend(stored.get("included") or ())
        excluded.extend(stored.get("excluded") or ())
    return tuple(included), tuple(excluded)


def products_of(outcomes: list[Outcome]) -> dict[str, dict[str, Any]]:
    """The products the UNIT discounts among ``outcomes`` give, as their lines show them."""
    out: dict[str, dict[str, Any]] = {}
    for outcome in outcomes:
        stored = (outcome.source or {}).get("discount") or {}
        if stored.get("type") == "UNIT":
            for unit in stored.get("units") or [stored]:
                out[unit["unit_type"]] = unit.get("product") or {"id": unit["unit_type"]}
    return out


def check_request(
    redeemables: list[RedeemableIn], rules: stacking.StackingRules = stacking.DEFAULT
) -> None:
    """Request-level checks (BEHAVIOR 10.3): all 400, nothing evaluated."""
    if len(redeemables) > rules.redeemables_limit:
        raise invalid_payload(
            f"Property .redeemables: at most {rules.redeemables_limit} redeemables a request "
            "(the project's redeemables_limit)"
        )
    seen: set[tuple[str, str]] = set()
    for index, redeemable in enumerate(redeemables):
        if redeemable.object == "promotion_stack":
            raise invalid_payload(
                f"Property .redeemables[{index}].object: {redeemable.object} redeemables are "
                "not supported by Tally yet"
            )
        key = (redeemable.object, redeemable.id)
        if key in seen:
            raise DUPLICATED
        seen.add(key)


def _find(conn: Connection, project_id: str, redeemable: RedeemableIn) -> Row | None:
    if redeemable.object == "voucher":
        return vouchers.find(conn, project_id=project_id, ref=redeemable.id)
    return promotions.get(conn, project_id, redeemable.id)


# A promotion tier may be used under the same rules as a voucher, its campaign's dates and
# validity standing in for its own when it has none; the refusals have their own keys.
_TIER_REFUSALS = {
    eligibility.DISABLED.key: ("promotion_inactive", "Inactive Promotion"),
    eligibility.NOT_ACTIVE.key: ("promotion_not_active_now", "promotion not active now"),
    eligibility.EXPIRED.key: ("promotion_not_active_now", "promotion not active now"),
    eligibility.NOT_ACTIVE_NOW.key: ("promotion_not_active_now", "promotion not active now"),
}


def _as_voucher(tier: Mapping[str, Any]) -> dict[str, Any]:
    rules: dict[str, Any] = {
        "active": tier["active"] and tier["campaign_active"],
        "redemption_quantity": None,
        "redeemed_quantity": 0,
        "created_at": tier["campaign_created_at"],
    }
    for key in (
        "start_date",
        "expiration_date",
        "validity_timeframe",
        "validity_day_of_week",
        "validity_hours",
    ):
        rules[key] = tier[key] if tier[key] is not None else tier[f"campaign_{key}"]
    return rules


def _refusal(
    redeemable: RedeemableIn,
    source: Mapping[str, Any] | None,
    cart: Cart,
    now: datetime,
    request_id: str,
) -> dict[str, Any] | None:
    """The error object of an INAPPLICABLE redeemable (BEHAVIOR 10.6, 10.14), or None."""
    kind = redeemable.object
    if source is None:
        return {
            "code": 404,
            "key": "not_found",
            "message": "Resource not found",
            "details": f"Cannot find {kind} with id {redeemable.id}",
            "request_id": request_id,
            "resource_id": redeemable.id,
            "resource_type": kind,
        }
    if kind == "voucher":
        name = f"Voucher {source['code']}"
        why = eligibility.refusal(source, now)
        if why is not None:
            return _error(why.key, why.message, f"{name}: {why.message}", request_id)
    else:
        name = f"Promotion tier {source['id']}"
        why = eligibility.refusal(_as_voucher(source), now)
        if why is not None:
            key, message = _TIER_REFUSALS[why.key]
            return _error(key, message, f"{name}: {message}", request_id)
    effect = source["discount"]["effect"]
    valued = any((line.amount or 0) > 0 for line in cart.lines)
    if source["discount"]["type"] == "UNIT":
        return None  # free units need no amount: they add their own lines
    if effect == "APPLY_TO_ORDER":
        if cart.amount <= 0 and not valued:
            return _error(
                "missing_amount",
                "Missing amount",
                f"{name} needs an order amount",
                request_id,
            )
    elif not cart.lines:
        return _error(
            "missing_order_items",
            "Missing order items",
            f"{name} discounts order items; the order has none",
            request_id,
        )
    elif not valued:
        return _error(
            "missing_order_items_amount",
            "Missing order items amount",
            f"{name} discounts order items; none has an amount or price",
            request_id,
        )
    return None


def _error(key: str, message: str, details: str, request_id: str) -> dict[str, Any]:
    return {
        "code": 400,
        "key": key,
        "message": message,
        "details": details,
        "request_id": request_id,
    }
