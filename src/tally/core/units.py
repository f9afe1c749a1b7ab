"""Free units of a product: UNIT discounts (BEHAVIOR.md 11.8). Pure: no I/O.

A UNIT discount gives ``unit_off`` units of one product for free. ``ADD_NEW_ITEMS`` always
adds that many units and discounts them; ``ADD_MISSING_ITEMS`` adds only the units the cart
lacks to reach ``unit_off`` and discounts ``unit_off`` units. Added units are added to the
product's line (a new line when the cart has none), raise the line's quantity and amount and
the order's amount; ``initial_*`` figures keep what the client sent. ``ADD_MANY_ITEMS`` is
several of these, one after another.

The same invariants as the other discounts hold: a line's discount never exceeds its value,
nothing is negative, and what the discount puts on the lines is what it reports.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tally.core.discounts import Applied, Cart
from tally.core.order_amounts import Line

UnitEffect = Literal["ADD_MISSING_ITEMS", "ADD_NEW_ITEMS"]


@dataclass(frozen=True, slots=True)
class FreeUnits:
    """``unit_off`` free units of ``product_id``. ``price``: the product's catalogue price,
    used for a line the cart does not have or one sent without a price (None: the product
    has no price, and its units are free of nothing)."""

    effect: UnitEffect
    unit_off: int
    product_id: str
    price: int | None

    def __post_init__(self) -> None:
        if self.unit_off < 1:
            raise ValueError("unit_off must be at least 1")
        if self.price is not None and self.price < 0:
            raise ValueError("a price is never negative")


@dataclass(frozen=True, slots=True)
class UnitDiscount:
    units: tuple[FreeUnits, ...]


def apply_units(cart: Cart, discount: UnitDiscount) -> Applied:
    """Apply every ``FreeUnits`` of ``discount`` in turn. The returned ``Applied`` has one
    entry per line of the resulting cart, which may have more lines than ``cart``."""
    lines = list(cart.lines)
    amount = cart.amount
    before = len(lines)
    added = [0] * before
    free = [0] * before
    parts = [0] * before
    for units in discount.units:
        index = _line_of(lines, units.product_id)
        if index is None:
            lines.append(
                Line(
                    quantity=0,
                    price=units.price,
                    amount=None if units.price is None else 0,
                    initial_quantity=0,
                    initial_amount=0,
                    product_id=units.product_id,
                )
            )
            added.append(0)
            free.append(0)
            parts.append(0)
            index = len(lines) - 1
        line = lines[index]
        price = line.price if line.price is not None else units.price
        have = line.quantity or 0
        # New items: always unit_off more. Missing items: only up to unit_off in all.
        more = units.unit_off if units.effect == "ADD_NEW_ITEMS" else max(0, units.unit_off - have)
        value = more * price if price is not None else 0
        line_amount = None if line.amount is None and price is None else (line.amount or 0) + value
        line = line._replace(quantity=have + more, amount=line_amount, price=price)
        lines[index] = line
        amount += value
        # Never more than is left on the line, nor than is left to pay on the order (its
        # amount may be below the sum of its lines).
        left = amount - cart.discount_amount - sum(each.discount_amount for each in lines)
        base = min(max(0, (line.amount or 0) - line.discount_amount), max(0, left))
        off = min(units.unit_off * price, base) if price is not None else 0
        made_free = min(have + more, line.discount_quantity + units.unit_off)
        free[index] += made_free - line.discount_quantity
        line = line._replace(
            discount_amount=line.discount_amount + off, discount_quantity=made_free
        )
        lines[index] = line
        added[index] += more
        parts[index] += off
    return Applied(
        cart=cart._replace(amount=amount, lines=tuple(lines)),
        discount_amount=0,
        line_discounts=tuple(parts),
        line_quantities=tuple(added),
        line_free_units=tuple(free),
        added_amount=amount - cart.amount,
    )


def _line_of(lines: Sequence[Line], product_id: str) -> int | None:
    """The first line of the product, if the cart has one."""
    for index, line in enumerate(lines):
        if line.product_id == product_id:
            return index
    return None
