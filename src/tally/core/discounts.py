"""What one discount takes off an order, and a stack of them one after another (BEHAVIOR.md
sections 5.10-5.15 and 11). Pure: no I/O.

Every discount is computed on the *running* order: what is left to pay after the discounts
applied before it, in this request and in earlier ones (5.10). The results keep these
invariants, whatever the cart and the stack (property-tested):

- no amount is negative; a line's discount never exceeds its value, and the discounts on an
  order never exceed its amount (``total_amount`` never goes below 0);
- what a discount puts on the lines sums exactly to what it reports as its item discount:
  a sum split over lines is split with the largest-remainder method, ties to the earlier line;
- percentages are exact fractions, rounded half up to a cent once per (discount, line);
  so is the value of the units a ``quantity_limit`` lets a discount reach on a line, which
  may be a fraction of a cent (2,005 for 3 units, 1 reached: 668 1/3).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import lcm
from typing import Literal, NamedTuple

from tally.core.money import allocate, allocate_capped
from tally.core.order_amounts import Line

DiscountType = Literal["AMOUNT", "PERCENT", "FIXED"]
Effect = Literal[
    "APPLY_TO_ORDER",
    "APPLY_TO_ITEMS",
    "APPLY_TO_ITEMS_PROPORTIONALLY",
    "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY",
    "APPLY_TO_ITEMS_BY_QUANTITY",
]

# Which effects each discount type has (BEHAVIOR 11.1).
EFFECTS: dict[str, tuple[str, ...]] = {
    "AMOUNT": (
        "APPLY_TO_ORDER",
        "APPLY_TO_ITEMS",
        "APPLY_TO_ITEMS_PROPORTIONALLY",
        "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY",
        "APPLY_TO_ITEMS_BY_QUANTITY",
    ),
    "PERCENT": ("APPLY_TO_ORDER", "APPLY_TO_ITEMS"),
    "FIXED": ("APPLY_TO_ORDER", "APPLY_TO_ITEMS"),
}


@dataclass(frozen=True, slots=True)
class Discount:
    """A discount definition: ``amount_off`` and ``fixed_amount`` in cents, ``percent_off``
    in percent (an exact fraction: 12.5 % is Fraction(25, 2)); limits in cents."""

    type: DiscountType
    effect: Effect
    amount_off: int | None = None
    percent_off: Fraction | None = None
    fixed_amount: int | None = None
    amount_limit: int | None = None
    aggregated_amount_limit: int | None = None

    def __post_init__(self) -> None:
        if self.effect not in EFFECTS[self.type]:
            raise ValueError(f"{self.type} discounts have no effect {self.effect}")
        value = {"AMOUNT": self.amount_off, "PERCENT": self.percent_off}.get(
            self.type, self.fixed_amount
        )
        if value is None or value < 0:
            raise ValueError(f"{self.type} discount needs a value that is not negative")
        for limit in (self.amount_limit, self.aggregated_amount_limit):
            if limit is not None and limit < 0:
                raise ValueError("discount limits must not be negative")


class Cart(NamedTuple):
    """The order as discounts see it: its amount, the order-level discount so far, and its
    lines with their item discounts so far. Named tuples, like :class:`Line`: every
    discount makes a cart and an :class:`Applied`, which as frozen dataclasses cost twice
    as much to make."""

    amount: int
    discount_amount: int
    lines: tuple[Line, ...]

    @property
    def items_discount_amount(self) -> int:
        return sum(line.discount_amount for line in self.lines)

    @property
    def total_amount(self) -> int:
        """What is left to pay: the base of the next order-level discount."""
        return max(0, self.amount - self.discount_amount - self.items_discount_amount)


class Applied(NamedTuple):
    """One discount's contribution and the cart it leaves."""

    cart: Cart
    discount_amount: int  # order-level, added by this discount
    line_discounts: tuple[int, ...]  # item-level, added by this discount, one per line
    # UNIT discounts (tally.core.units) add units, and lines: per line of ``cart``, the
    # units added and the units made free; the value the added units put on the order.
    # Empty for the other discounts, which add nothing.
    line_quantities: tuple[int, ...] = ()
    line_free_units: tuple[int, ...] = ()
    added_amount: int = 0

    def line_discount(self, index: int) -> int:
        """What this discount put on line ``index`` (0 for a line added after it)."""
        return self.line_discounts[index] if index < len(self.line_discounts) else 0

    def line_quantity(self, index: int) -> int:
        return self.line_quantities[index] if index < len(self.line_quantities) else 0

    def line_free(self, index: int) -> int:
        return self.line_free_units[index] if index < len(self.line_free_units) else 0

    @property
    def items_discount_amount(self) -> int:
        return sum(self.line_discounts)

    @property
    def total_discount_amount(self) -> int:
        return self.discount_amount + self.items_discount_amount


@dataclass(frozen=True, slots=True)
class Target:
    """The lines one ``applicable_to`` entry lets an item discount reach, and its caps
    (BEHAVIOR 11.6): units discounted on each line and over all its lines, discount on each
    line and over all its lines. None: no cap."""

    lines: tuple[int, ...]
    quantity_limit: int | None = None
    aggregated_quantity_limit: int | None = None
    amount_limit: int | None = None
    aggregated_amount_limit: int | None = None

    def __post_init__(self) -> None:
        for cap in (
            self.quantity_limit,
            self.aggregated_quantity_limit,
            self.amount_limit,
            self.aggregated_amount_limit,
        ):
            if cap is not None and cap < 0:
                raise ValueError("target caps must not be negative")


Targets = Sequence[Target] | Iterable[int] | None


def _targets(targets: Sequence[Target] | Iterable[int]) -> list[Target]:
    """Targets as a list; plain line indices are one target without caps."""
    found = list(targets)
    if all(isinstance(t, Target) for t in found):
        return found  # type: ignore[return-value]
    return [Target(tuple(t for t in found if isinstance(t, int)))]


def apply(cart: Cart, discount: Discount, targets: Targets = None) -> Applied:
    """Apply ``discount`` to ``cart``. ``targets``: the lines an item effect may discount,
    with their caps (resolved from the rules' ``applicable_to``); a line two targets name
    belongs to the first; ``None`` means every line (BEHAVIOR 11.5). Order-level effects
    ignore them."""
    left = cart.total_amount
    if discount.effect == "APPLY_TO_ORDER":
        off = min(_order_discount(discount, left), left)
        return Applied(
            cart=Cart(
                amount=cart.amount, discount_amount=cart.discount_amount + off, lines=cart.lines
            ),
            discount_amount=off,
            line_discounts=(0,) * len(cart.lines),
        )
    if targets is None:
        # Every line, whole and without caps: what the targets below come to for one
        # target of every line, without their bookkeeping (most discounts have no rules).
        units = [_units(line) for line in cart.lines]
        parts = _item_discounts(discount, [_line_base(line) for line in cart.lines], units)
    else:
        parts = _targeted_discounts(cart, discount, _targets(targets))
    # Caps, smallest result wins: the discount's own limit for the whole order, then what
    # is left to pay on the order (its amount may be below the sum of its lines).
    for cap in (discount.aggregated_amount_limit, left):
        if cap is not None and sum(parts) > cap:
            parts = allocate(cap, parts)
    lines = tuple(
        line.plus_discount(part) if part else line
        for line, part in zip(cart.lines, parts, strict=True)
    )
    return Applied(
        cart=Cart(amount=cart.amount, discount_amount=cart.discount_amount, lines=lines),
        discount_amount=0,
        line_discounts=tuple(parts),
    )


def _targeted_discounts(cart: Cart, discount: Discount, chosen: list[Target]) -> list[int]:
    """Each line's part of an item discount that reaches only the lines of ``chosen``,
    within each target's caps."""
    size = len(cart.lines)
    owned: list[list[int]] = []  # per target, the lines it reaches, in order
    taken: set[int] = set()
    for target in chosen:
        mine = []
        for index in target.lines:
            if 0 <= index < size and index not in taken:
                taken.add(index)
                mine.append(index)
        owned.append(mine)
    units = [0] * size
    bases = [0] * size
    shares = [1] * size
    split = False
    for target, mine in zip(chosen, owned, strict=True):
        units_left = target.aggregated_quantity_limit
        for index in mine:
            line = cart.lines[index]
            whole = _units(line)
            allowed = _capped(whole, target.quantity_limit)
            if units_left is not None:
                allowed = min(allowed, units_left)
                units_left -= allowed
            units[index] = allowed
            base = _line_base(line)
            if allowed >= whole or base * allowed % whole == 0:
                bases[index] = base if allowed >= whole else base * allowed // whole
            else:
                # Fewer units than the line has: their share of what is left on it, kept
                # exact (base x allowed / whole) and rounded once, with the discount (5.15).
                bases[index] = base * allowed
                shares[index] = whole
                split = True
    parts = _item_discounts(discount, bases, units, shares if split else None)
    for target, mine in zip(chosen, owned, strict=True):
        if target.amount_limit is not None:
            for index in mine:
                parts[index] = min(parts[index], target.amount_limit)
        cap = target.aggregated_amount_limit
        if cap is not None and sum(parts[i] for i in mine) > cap:
            for index, part in zip(mine, allocate(cap, [parts[i] for i in mine]), strict=True):
                parts[index] = part
    return parts


def apply_all(cart: Cart, stack: Sequence[tuple[Discount, Targets]]) -> list[Applied]:
    """Apply discounts in order, each on the cart the ones before it left (BEHAVIOR 5.10)."""
    out: list[Applied] = []
    for discount, targets in stack:
        applied = apply(cart, discount, targets)
        out.append(applied)
        cart = applied.cart
    return out


def _percent_of(base: int, percent: Fraction) -> int:
    """``percent`` % of ``base``, exactly, rounded half up to a whole cent (BEHAVIOR 5.15).

    In integers: base x p/q / 100 + 1/2, floored, is (2 x base x p + 100 x q) // (200 x q);
    Fraction arithmetic gives the same and is ten times slower."""
    p, q = percent.numerator, percent.denominator
    return (2 * base * p + 100 * q) // (200 * q)


def _percents_of(bases: list[int], percent: Fraction) -> list[int]:
    """:func:`_percent_of` each base, the fraction's parts read once for all."""
    p, q = percent.numerator, percent.denominator
    return [(2 * base * p + 100 * q) // (200 * q) for base in bases]


def _capped(value: int, limit: int | None) -> int:
    return value if limit is None else min(value, limit)


def _order_discount(discount: Discount, base: int) -> int:
    if discount.type == "AMOUNT":
        assert discount.amount_off is not None
        off = discount.amount_off
    elif discount.type == "PERCENT":
        assert discount.percent_off is not None
        off = _percent_of(base, discount.percent_off)
    else:
        # FIXED: the order costs ``fixed_amount`` from now on (a new price, not an amount off).
        assert discount.fixed_amount is not None
        off = max(0, base - discount.fixed_amount)
    off = _capped(off, discount.amount_limit)
    return _capped(off, discount.aggregated_amount_limit)


def _line_base(line: Line) -> int:
    """What is left to discount on a line: its value less its item discounts so far."""
    return max(0, (line.amount or 0) - line.discount_amount)


def _units(line: Line) -> int:
    """Units on a line; a line sent with only an amount counts as one unit (PROPOSED)."""
    if line.quantity is not None:
        return line.quantity
    return 1 if line.amount else 0


def _item_discounts(
    discount: Discount, bases: list[int], units: list[int], shares: list[int] | None = None
) -> list[int]:
    """Each line's part, before the caps: ``bases`` is what is left on each line to
    discount (0: not targeted), ``units`` how many of its units the discount reaches.
    ``shares``: when a line's reached units are worth a fraction of a cent, its value is
    ``bases[i] / shares[i]`` exactly (None: every value is ``bases[i]``, a whole cent).
    Every part is computed on the exact value and rounded half up once (BEHAVIOR 5.15)."""
    if shares is not None:
        return _split_item_discounts(discount, bases, units, shares)
    effect = discount.effect
    if discount.type == "PERCENT":
        assert discount.percent_off is not None
        parts = _percents_of(bases, discount.percent_off)
        limit = discount.amount_limit
        return parts if limit is None else [min(part, limit) for part in parts]
    if discount.type == "FIXED":
        # Every reached unit on a targeted line is priced at fixed_amount from now on.
        assert discount.fixed_amount is not None
        fixed = discount.fixed_amount
        return [
            _capped(max(0, b - fixed * n), discount.amount_limit) if b else 0
            for b, n in zip(bases, units, strict=True)
        ]
    assert discount.amount_off is not None
    off = discount.amount_off
    if effect == "APPLY_TO_ITEMS":
        return [_capped(min(off, b), discount.amount_limit) for b in bases]
    if effect == "APPLY_TO_ITEMS_BY_QUANTITY":
        return [
            _capped(min(off * n, b), discount.amount_limit)
            for b, n in zip(bases, units, strict=True)
        ]
    if effect == "APPLY_TO_ITEMS_PROPORTIONALLY":
        # In proportion to what is left on each line; a share never exceeds its line.
        return allocate(min(off, sum(bases)), bases)
    # APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY: in proportion to units, each line capped at
    # what is left on it; a capped line's excess goes to the others.
    weights = [n if b else 0 for b, n in zip(bases, units, strict=True)]
    reachable = sum(b for b, w in zip(bases, weights, strict=True) if w)
    return allocate_capped(min(off, reachable), weights, bases)


def _half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` (neither negative) rounded half up to a whole cent."""
    return (2 * numerator + denominator) // (2 * denominator)


def _split_item_discounts(
    discount: Discount, bases: list[int], units: list[int], shares: list[int]
) -> list[int]:
    """:func:`_item_discounts` when some line's reached units are worth ``bases[i] /
    shares[i]``, a fraction of a cent: the same formulas on the exact values, each line's
    part rounded half up once. A line whose reached units are all free gets its value
    rounded half up, what the per-line effects give it; the split effects cap it there."""
    effect = discount.effect
    limit = discount.amount_limit
    if discount.type == "PERCENT":
        assert discount.percent_off is not None
        p, q = discount.percent_off.numerator, discount.percent_off.denominator
        # base / share x p/q / 100 + 1/2, floored.
        parts = [
            (2 * b * p + 100 * q * d) // (200 * q * d) for b, d in zip(bases, shares, strict=True)
        ]
        return parts if limit is None else [min(part, limit) for part in parts]
    if discount.type == "FIXED":
        # Every reached unit is priced at fixed_amount from now on: their exact value less
        # fixed_amount each, rounded once.
        assert discount.fixed_amount is not None
        fixed = discount.fixed_amount
        return [
            _capped(_half_up(max(0, b - fixed * n * d), d), limit) if b else 0
            for b, n, d in zip(bases, units, shares, strict=True)
        ]
    assert discount.amount_off is not None
    off = discount.amount_off
    # What each line can take: its reached units' exact value, rounded half up.
    values = [_half_up(b, d) for b, d in zip(bases, shares, strict=True)]
    if effect == "APPLY_TO_ITEMS":
        return [_capped(min(off, v), limit) for v in values]
    if effect == "APPLY_TO_ITEMS_BY_QUANTITY":
        return [_capped(min(off * n, v), limit) for v, n in zip(values, units, strict=True)]
    if effect == "APPLY_TO_ITEMS_PROPORTIONALLY":
        # In proportion to the exact values (brought to one denominator), each line capped
        # at its value rounded half up.
        common = 1
        for d in shares:
            common = lcm(common, d)
        weights = [b * (common // d) for b, d in zip(bases, shares, strict=True)]
        reachable = sum(v for v, w in zip(values, weights, strict=True) if w)
        return allocate_capped(min(off, reachable), weights, values)
    # APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY, as in _item_discounts on the rounded values.
    weights = [n if v else 0 for v, n in zip(values, units, strict=True)]
    reachable = sum(v for v, w in zip(values, weights, strict=True) if w)
    return allocate_capped(min(off, reachable), weights, values)
