"""How every amount of an order is derived (BEHAVIOR.md section 5). Pure: no I/O.

Inputs are what the client sent after validation; outputs are the stored and printed
figures. Discount fields start at zero here and are only ever moved by redemptions and
rollbacks, which reuse ``order_totals`` so the same invariants hold everywhere:

- ``total_discount_amount == discount_amount + items_discount_amount``
- ``items_discount_amount == sum of line discount_amount``
- ``total_amount == max(0, amount - total_discount_amount)``
- every line's ``subtotal_amount == max(0, amount - discount_amount)``
"""

from dataclasses import dataclass
from typing import NamedTuple

from tally.core.money import MAX_MONEY


class AmountError(ValueError):
    """A figure the client sent (or one derived from it) is outside what can be stored.
    ``field`` is the payload path, e.g. ``.items[2].amount``."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"Property {field} {problem}")
        self.field = field


class Line(NamedTuple):
    """One order line as the arithmetic sees it. A named tuple, not a frozen dataclass:
    lines are made anew for every discount on every line, and a frozen dataclass costs
    twice as much to make (1.1 us, each field set through object.__setattr__)."""

    quantity: int | None
    price: int | None
    amount: int | None
    initial_quantity: int | None
    initial_amount: int | None
    discount_amount: int = 0
    discount_quantity: int = 0
    # The catalogue product the line holds: UNIT discounts find their product's line by it.
    product_id: str | None = None

    @property
    def subtotal_amount(self) -> int | None:
        if self.amount is None:
            return None
        return max(0, self.amount - self.discount_amount)

    def plus_discount(self, amount: int) -> "Line":
        """This line with ``amount`` more item discount."""
        q, p, a, iq, ia, d, dq, product = self
        return Line(q, p, a, iq, ia, d + amount, dq, product)

    def of_product(self, product_id: str | None) -> "Line":
        """This line holding the catalogue product ``product_id``."""
        q, p, a, iq, ia, d, dq, _ = self
        return Line(q, p, a, iq, ia, d, dq, product_id)


@dataclass(frozen=True, slots=True)
class OrderTotals:
    amount: int
    initial_amount: int
    discount_amount: int
    items_discount_amount: int
    total_discount_amount: int
    total_amount: int


def price_line(
    *, price: int | None, quantity: int | None, amount: int | None, index: int = 0
) -> Line:
    """A line as sent: quantity defaults to 1 when only a price is given, and the line
    value is the given amount, else price x quantity (BEHAVIOR 5.2)."""
    if quantity is None and price is not None and amount is None:
        quantity = 1
    if amount is None and price is not None and quantity is not None:
        amount = price * quantity
        if amount > MAX_MONEY:
            raise AmountError(f".items[{index}].amount", f"cannot be greater than {MAX_MONEY}")
    return Line(
        quantity=quantity,
        price=price,
        amount=amount,
        initial_quantity=quantity,
        initial_amount=amount,
    )


def order_totals(
    *,
    amount: int | None,
    lines: list[Line],
    discount_amount: int = 0,
    initial_amount: int | None = None,
) -> OrderTotals:
    """The order's figures from its lines and stored order-level discount (BEHAVIOR 5.1-5.7).

    ``amount`` is the client's amount, kept as given even when it differs from the lines;
    ``None`` means "the sum of the lines". ``initial_amount`` is the value of the lines as
    sent, before any discount or effect (BEHAVIOR 5.3); ``None`` derives it: the lines'
    initial values when any line has one, else the amount.
    """
    if amount is None:
        amount = sum(line.amount or 0 for line in lines)
        if amount > MAX_MONEY:
            raise AmountError(".amount", f"cannot be greater than {MAX_MONEY}")
    if initial_amount is None:
        valued = [line.initial_amount for line in lines if line.initial_amount is not None]
        initial_amount = sum(valued) if valued else amount
    items_discount = sum(line.discount_amount for line in lines)
    total_discount = discount_amount + items_discount
    return OrderTotals(
        amount=amount,
        initial_amount=initial_amount,
        discount_amount=discount_amount,
        items_discount_amount=items_discount,
        total_discount_amount=total_discount,
        total_amount=max(0, amount - total_discount),
    )


LineKey = tuple[str | None, str | None, str | None]


def match_lines(old: list[LineKey], new: list[LineKey]) -> list[int | None]:
    """For each new line, the index of the old line it continues, or None: the first old
    line with the same product, SKU and source id not matched yet. A line that continues
    keeps its id and its discounts (BEHAVIOR 8.4)."""
    unused: dict[LineKey, list[int]] = {}
    for index, key in enumerate(old):
        unused.setdefault(key, []).append(index)
    out: list[int | None] = []
    for key in new:
        pool = unused.get(key)
        out.append(pool.pop(0) if pool else None)
    return out


def carry_discounts(old: list[tuple[LineKey, Line]], new: list[tuple[LineKey, Line]]) -> list[Line]:
    """When a client replaces an order's lines, item discounts already granted stay on the
    lines that still exist (:func:`match_lines`), each capped at the new line's value
    (BEHAVIOR 8.4)."""
    matches = match_lines([key for key, _ in old], [key for key, _ in new])
    out: list[Line] = []
    for (_, line), match in zip(new, matches, strict=True):
        if match is None:
            out.append(line._replace(discount_amount=0, discount_quantity=0))
            continue
        before = old[match][1]
        out.append(
            line._replace(
                discount_amount=min(before.discount_amount, line.amount or 0),
                discount_quantity=min(before.discount_quantity, line.quantity or 0),
            )
        )
    return out


def cap_order_discount(*, amount: int, items_discount_amount: int, discount_amount: int) -> int:
    """Order-level discount kept as an amount, but never more than what is left to pay
    after item discounts, so total_amount cannot go below zero (BEHAVIOR 5.7, 8.4)."""
    return max(0, min(discount_amount, amount - items_discount_amount))
