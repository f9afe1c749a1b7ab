"""A rollback gives back exactly what its redemption took: properties over random carts and
stacks of every discount type (the order, its lines and their discounts as they were before
the redemption), using the same pure steps the service saves and reverses."""

from fractions import Fraction
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tally.core.discounts import EFFECTS, Cart, Discount
from tally.core.order_amounts import Line
from tally.core.units import FreeUnits, UnitDiscount
from tally.orders.service import with_cart
from tally.redemptions.rollbacks import without
from tally.redemptions.service import applied_record
from tally.validations.service import apply_discount

PRODUCTS = ("prod_a", "prod_b")


@st.composite
def carts(draw: st.DrawFn) -> tuple[dict[str, Any], Cart]:
    count = draw(st.integers(0, 4))
    items = []
    lines = []
    for index in range(count):
        price = draw(st.integers(0, 50_000))
        quantity = draw(st.integers(1, 4))
        product = draw(st.sampled_from(PRODUCTS))
        items.append(
            {
                "id": f"ordli_{index}",
                "product_id": product,
                "quantity": quantity,
                "initial_quantity": quantity,
                "amount": price * quantity,
                "initial_amount": price * quantity,
                "price": price,
                "discount_amount": 0,
                "discount_quantity": 0,
            }
        )
        lines.append(
            Line(
                quantity=quantity,
                price=price,
                amount=price * quantity,
                initial_quantity=quantity,
                initial_amount=price * quantity,
                product_id=product,
            )
        )
    amount = sum(item["amount"] for item in items) + draw(st.integers(0, 10_000))
    row = {
        "id": "ord_x",
        "amount": amount,
        "initial_amount": amount,
        "discount_amount": 0,
        "items_discount_amount": 0,
        "total_amount": amount,
        "items": items,
    }
    return row, Cart(amount=amount, discount_amount=0, lines=tuple(lines))


@st.composite
def discounts(draw: st.DrawFn) -> Discount | UnitDiscount:
    kind = draw(st.sampled_from(["AMOUNT", "PERCENT", "FIXED", "UNIT"]))
    if kind == "UNIT":
        units = draw(
            st.lists(
                st.builds(
                    FreeUnits,
                    st.sampled_from(["ADD_MISSING_ITEMS", "ADD_NEW_ITEMS"]),
                    st.integers(1, 3),
                    st.sampled_from(PRODUCTS),
                    st.just(1200),
                ),
                min_size=1,
                max_size=2,
            )
        )
        return UnitDiscount(tuple(units))
    effect = draw(st.sampled_from(EFFECTS[kind]))
    value = draw(st.integers(0, 20_000))
    if kind == "PERCENT":
        return Discount("PERCENT", effect, percent_off=Fraction(value % 101))  # type: ignore[arg-type]
    if kind == "FIXED":
        return Discount("FIXED", effect, fixed_amount=value)  # type: ignore[arg-type]
    return Discount("AMOUNT", effect, amount_off=value)  # type: ignore[arg-type]


def _redeem(
    row: dict[str, Any], cart: Cart, stack: list[Discount | UnitDiscount]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The order saved after ``stack`` and each redemption's record of what it did."""
    steps = []
    for discount in stack:
        step = apply_discount(cart, discount)
        steps.append(step)
        cart = step.cart
    saved = with_cart(row, cart, {p: {"id": p} for p in PRODUCTS})
    return saved, [{"applied": applied_record(saved, step)} for step in steps]


FIGURES = ("amount", "discount_amount", "items_discount_amount", "total_amount")


@given(
    start=carts(),
    first=st.lists(discounts(), max_size=3),
    second=st.lists(discounts(), min_size=1, max_size=3),
)
def test_rolling_back_a_later_redemption_restores_the_order_before_it(
    start: tuple[dict[str, Any], Cart],
    first: list[Discount | UnitDiscount],
    second: list[Discount | UnitDiscount],
) -> None:
    row, cart = start
    before, _ = _redeem(row, cart, first)
    # The second redemption works on the order the first one saved.
    lines = tuple(
        Line(
            quantity=item["quantity"],
            price=item["price"],
            amount=item["amount"],
            initial_quantity=item["initial_quantity"],
            initial_amount=item["initial_amount"],
            discount_amount=item["discount_amount"],
            discount_quantity=item["discount_quantity"],
            product_id=item["product_id"],
        )
        for item in before["items"]
    )
    again = Cart(amount=before["amount"], discount_amount=before["discount_amount"], lines=lines)
    after, records = _redeem(before, again, second)
    # What the first redemption put on the order is what stays (no update capped it).
    kept_off = after["discount_amount"] - sum(r["applied"]["discount_amount"] for r in records)
    kept_lines = {item["id"]: item["discount_amount"] for item in before["items"]}
    restored = without(after, records, kept_off=kept_off, kept_lines=kept_lines)
    for name in FIGURES:
        assert restored[name] == before[name], name
    assert [i["id"] for i in restored["items"]] == [i["id"] for i in before["items"]]
    for got, want in zip(restored["items"], before["items"], strict=True):
        for name in ("quantity", "amount", "discount_amount", "discount_quantity"):
            assert got[name] == want[name], name
    assert restored["total_amount"] == max(
        0, restored["amount"] - restored["discount_amount"] - restored["items_discount_amount"]
    )
