"""Validation results as the API prints them (validations.json)."""

from collections.abc import Mapping, Sequence
from typing import Any

from tally import ids
from tally.core.discounts import Applied, Cart
from tally.orders import presenter as orders
from tally.orders import service as orders_service
from tally.validations.service import Outcome, Validation

_EMPTY_LIST = {"data": [], "total": 0, "data_ref": "data", "object": "list"}


def validation_json(result: Validation, tracking_id: str | None) -> dict[str, Any]:
    applied = result.applied
    final = applied[-1].cart if applied else result.start
    printer = OrderPrinter(result.order, result.products)
    listed = [(o, redeemable_json(o, printer)) for o in result.outcomes]
    out: dict[str, Any] = {"id": ids.new_hex_id("valid", 18), "valid": result.valid}
    if result.rules.partial:
        # PARTIAL: `redeemables` holds the applicable ones; the others are listed apart.
        out["redeemables"] = [shown for o, shown in listed if o.step is not None]
        out["skipped_redeemables"] = [shown for o, shown in listed if o.skipped is not None]
        out["inapplicable_redeemables"] = [shown for o, shown in listed if o.error is not None]
    else:
        out["redeemables"] = [shown for _, shown in listed]
    out["order"] = printer.order_json(final, applied)
    if tracking_id is not None:
        out["tracking_id"] = tracking_id
    out["stacking_rules"] = result.rules.json()
    return out


class OrderPrinter:
    """One order printed under several carts: a validation prints its order once per
    applicable redeemable and once whole. What no discount changes (the order's own fields,
    each line's product, SKU and metadata) is printed once; each cart then only sets its
    figures, which cost a third of printing a line anew."""

    def __init__(self, order: Mapping[str, Any], products: Mapping[str, Mapping[str, Any]]):
        self.order = order
        self.products = products
        self._stored: list[dict[str, Any]] = order["items"]
        self._head = orders.order_json({**order, "items": []})
        self._lines = [orders.line_json(line) for line in self._stored]
        # Per stored line, which of its optional figures it prints: a cart line with the
        # same ones prints the same fields in the same order.
        self._shapes = [
            (
                line.get("quantity") is None,
                line.get("price") is None,
                not line.get("discount_quantity"),
            )
            for line in self._stored
        ]

    def order_json(self, cart: Cart, applied: Sequence[Applied]) -> dict[str, Any]:
        """The order with the figures of ``cart``; the applied_* fields sum ``applied``
        only (BEHAVIOR 5.8, 5.11)."""
        items = self._items(cart)
        if items is None:
            out = orders.order_json(orders_service.with_cart(self.order, cart, self.products))
        else:
            out = self._head.copy()
            discount, items_discount = cart.discount_amount, cart.items_discount_amount
            out["amount"] = cart.amount
            out["discount_amount"] = discount
            out["items_discount_amount"] = items_discount
            out["total_discount_amount"] = discount + items_discount
            out["total_amount"] = cart.total_amount
            out["items"] = items
        with_applied(out, applied)
        # An order the validation did not find is not saved: it has no id or dates
        # (BEHAVIOR 8.6).
        for key in ("id", "created_at"):
            if out[key] is None:
                del out[key]
        return out

    def _items(self, cart: Cart) -> list[dict[str, Any]] | None:
        """The printed lines of ``cart`` from the lines printed once, as
        ``orders.line_json`` prints them (the same fields in the same order); None when a
        line's printed fields differ from its stored line's (a UNIT discount added units or
        lines), which is printed whole."""
        stored = self._stored
        if len(cart.lines) != len(stored):
            return None
        out = []
        for line, shape, printed in zip(cart.lines, self._shapes, self._lines, strict=True):
            quantity, price, discount_quantity = line.quantity, line.price, line.discount_quantity
            if (quantity is None, price is None, not discount_quantity) != shape:
                return None
            item = printed.copy()
            if quantity is not None:
                item["quantity"] = quantity
            if discount_quantity:
                item["discount_quantity"] = discount_quantity
            amount = line.amount or 0
            discount = line.discount_amount or 0
            item["amount"] = amount
            item["discount_amount"] = discount
            if price is not None:
                item["price"] = price
            item["subtotal_amount"] = amount - discount if amount > discount else 0
            out.append(item)
        return out


def order_json(
    order: Mapping[str, Any],
    cart: Cart,
    applied: Sequence[Applied],
    products: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """``order`` with the figures of ``cart``; the applied_* fields sum ``applied`` only
    (BEHAVIOR 5.8, 5.11)."""
    return OrderPrinter(order, products).order_json(cart, applied)


def with_applied(out: dict[str, Any], applied: Sequence[Applied]) -> dict[str, Any]:
    """A printed order with the applied_* figures of ``applied`` (BEHAVIOR 5.8)."""
    items = out["items"]
    # Summed step by step into one list per figure: a stack prints its order once per
    # redeemable and once whole, and asking each step about each line cost half of a
    # validation's printing.
    discounts: Sequence[int]
    if len(applied) == 1 and len(applied[0].line_discounts) == len(items):
        discounts = applied[0].line_discounts  # a redeemable's own order: its one step
    else:
        discounts = [0] * len(items)
        for step in applied:
            _add(discounts, step.line_discounts)
    for item, discount in zip(items, discounts, strict=True):
        item["applied_discount_amount"] = discount
    # Units a UNIT discount added (applied_quantity) and made free in this request; only
    # UNIT discounts have any.
    if any(step.line_quantities or step.line_free_units for step in applied):
        added = [0] * len(items)
        free = [0] * len(items)
        for step in applied:
            _add(added, step.line_quantities)
            _add(free, step.line_free_units)
        for item, units, free_units in zip(items, added, free, strict=True):
            if units:
                item["applied_quantity"] = units
                item["applied_quantity_amount"] = units * (item.get("price") or 0)
            if free_units:
                item["applied_discount_quantity"] = free_units
    order_applied = sum(step.discount_amount for step in applied)
    items_applied = sum(step.items_discount_amount for step in applied)
    out["applied_discount_amount"] = order_applied
    out["items_applied_discount_amount"] = items_applied
    out["total_applied_discount_amount"] = order_applied + items_applied
    return out


def _add(totals: list[int], per_line: Sequence[int]) -> None:
    """Add a step's per-line figures; a step knows only the lines there were before it."""
    for index, value in enumerate(per_line[: len(totals)]):
        if value:
            totals[index] += value


def _listed(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if not entries:
        return _EMPTY_LIST
    return {"data": list(entries), "total": len(entries), "data_ref": "data", "object": "list"}


def redeemable_json(outcome: Outcome, printer: OrderPrinter | None = None) -> dict[str, Any]:
    """A redeemable's result; ``printer`` prints the order an applicable one leaves (a
    refused or skipped one prints none)."""
    out: dict[str, Any] = {"id": outcome.redeemable.id, "object": outcome.redeemable.object}
    if outcome.step is not None:
        assert outcome.source is not None and printer is not None
        return {
            "status": "APPLICABLE",
            **out,
            "order": printer.order_json(outcome.step.cart, [outcome.step]),
            "applicable_to": _listed(outcome.items[0]),
            "inapplicable_to": _listed(outcome.items[1]),
            "result": {"discount": outcome.source["discount"]},
        }
    if outcome.error is not None:
        error = outcome.error
        details = {"message": error["message"], "key": error["key"]}
        return {"status": "INAPPLICABLE", **out, "result": {"error": error, "details": details}}
    assert outcome.skipped is not None
    key, message = outcome.skipped
    return {"status": "SKIPPED", **out, "result": {"details": {"key": key, "message": message}}}


def voucher_validation_json(result: Validation, code: str, tracking_id: str) -> dict[str, Any]:
    """The legacy one-voucher validation (VouchersValidateResponseBody)."""
    (outcome,) = result.outcomes
    out: dict[str, Any] = {"valid": outcome.step is not None, "code": code}
    if outcome.step is None:
        assert outcome.error is not None
        out["error"] = outcome.error
        # BEHAVIOR 16.7: the legacy answer names a rule refusal by what was checked.
        out["reason"] = (
            "order does not match validation rules"
            if outcome.error["key"] == "redemption_rules_violated"
            else outcome.error["message"]
        )
    else:
        assert outcome.source is not None
        voucher = outcome.source
        out["applicable_to"] = _listed(outcome.items[0])
        out["inapplicable_to"] = _listed(outcome.items[1])
        if voucher.get("campaign_name") is not None:
            out["campaign"] = voucher["campaign_name"]
            out["campaign_id"] = voucher["campaign_id"]
        out["discount"] = voucher["discount"]
        out["order"] = order_json(result.order, outcome.step.cart, [outcome.step], result.products)
    out["tracking_id"] = tracking_id
    out["metadata"] = (outcome.source or {}).get("metadata") or {}
    return out
