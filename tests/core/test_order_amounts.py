"""Properties of the order arithmetic (BEHAVIOR.md section 5)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tally.core.money import MAX_MONEY, MAX_QUANTITY
from tally.core.order_amounts import (
    AmountError,
    Line,
    LineKey,
    cap_order_discount,
    carry_discounts,
    order_totals,
    price_line,
)

prices = st.integers(min_value=0, max_value=10**7)
quantities = st.integers(min_value=1, max_value=1000)


@st.composite
def lines(draw: st.DrawFn) -> Line:
    price = draw(st.none() | prices)
    quantity = draw(st.none() | quantities)
    amount = draw(st.none() | st.integers(min_value=0, max_value=10**9))
    line = price_line(price=price, quantity=quantity, amount=amount)
    discount = draw(st.integers(min_value=0, max_value=line.amount or 0))
    return Line(
        quantity=line.quantity,
        price=line.price,
        amount=line.amount,
        initial_quantity=line.initial_quantity,
        initial_amount=line.initial_amount,
        discount_amount=discount,
    )


@given(price=prices, quantity=quantities)
def test_line_value_is_price_times_quantity(price: int, quantity: int) -> None:
    line = price_line(price=price, quantity=quantity, amount=None)
    assert line.amount == price * quantity
    assert line.initial_amount == line.amount
    assert line.initial_quantity == quantity


def test_line_quantity_defaults_to_one_with_a_price() -> None:
    line = price_line(price=500, quantity=None, amount=None)
    assert (line.quantity, line.amount) == (1, 500)


def test_given_line_amount_wins_over_price_times_quantity() -> None:
    assert price_line(price=500, quantity=2, amount=999).amount == 999


def test_line_without_price_or_amount_has_no_value() -> None:
    line = price_line(price=None, quantity=3, amount=None)
    assert line.amount is None
    assert line.subtotal_amount is None


def test_line_value_over_the_limit_is_rejected_with_the_field() -> None:
    with pytest.raises(AmountError) as caught:
        price_line(price=MAX_MONEY, quantity=MAX_QUANTITY, amount=None, index=4)
    assert caught.value.field == ".items[4].amount"


@given(items=st.lists(lines(), max_size=20), order_discount=st.integers(0, 10**10))
def test_totals_reconcile(items: list[Line], order_discount: int) -> None:
    totals = order_totals(amount=None, lines=items, discount_amount=order_discount)
    assert totals.amount == sum(line.amount or 0 for line in items)
    assert totals.items_discount_amount == sum(line.discount_amount for line in items)
    assert totals.total_discount_amount == totals.discount_amount + totals.items_discount_amount
    assert totals.total_amount == max(0, totals.amount - totals.total_discount_amount)
    assert totals.total_amount >= 0
    for line in items:
        if line.amount is not None:
            assert line.subtotal_amount == line.amount - line.discount_amount


@given(items=st.lists(lines(), max_size=10), amount=st.integers(0, 10**10))
def test_client_amount_is_kept_as_given(items: list[Line], amount: int) -> None:
    totals = order_totals(amount=amount, lines=items)
    assert totals.amount == amount
    valued = [line.initial_amount for line in items if line.initial_amount is not None]
    assert totals.initial_amount == (sum(valued) if valued else amount)


@given(
    amount=st.integers(0, 10**9),
    items_discount=st.integers(0, 10**9),
    discount=st.integers(0, 10**9),
)
def test_capped_order_discount_never_makes_the_total_negative(
    amount: int, items_discount: int, discount: int
) -> None:
    capped = cap_order_discount(
        amount=amount, items_discount_amount=items_discount, discount_amount=discount
    )
    assert 0 <= capped <= discount
    if items_discount <= amount:
        assert amount - items_discount - capped >= 0


keys = st.tuples(
    st.sampled_from([None, "prod_a", "prod_b"]),
    st.sampled_from([None, "sku_a"]),
    st.sampled_from([None, "src"]),
)


@given(
    old=st.lists(st.tuples(keys, lines()), max_size=8),
    new=st.lists(st.tuples(keys, lines()), max_size=8),
)
def test_carried_discounts_never_exceed_the_new_lines_or_the_old_grants(
    old: list[tuple[LineKey, Line]], new: list[tuple[LineKey, Line]]
) -> None:
    carried = carry_discounts(old, new)
    assert len(carried) == len(new)
    for (_, line), result in zip(new, carried, strict=True):
        assert 0 <= result.discount_amount <= (line.amount or 0)
        assert result.amount == line.amount
    # Per key, no more discount survives than was granted before.
    for key in {k for k, _ in new}:
        before = sum(line.discount_amount for k, line in old if k == key)
        after = sum(r.discount_amount for (k, _), r in zip(new, carried, strict=True) if k == key)
        assert after <= before


def test_carried_discount_follows_its_line() -> None:
    a = price_line(price=1000, quantity=1, amount=None)
    b = price_line(price=500, quantity=1, amount=None)
    old_a = Line(
        quantity=1,
        price=1000,
        amount=1000,
        initial_quantity=1,
        initial_amount=1000,
        discount_amount=300,
    )
    result = carry_discounts(
        [(("p1", None, None), old_a)], [(("p2", None, None), b), (("p1", None, None), a)]
    )
    assert [r.discount_amount for r in result] == [0, 300]
    # A line that shrank keeps at most its new value.
    small = price_line(price=100, quantity=1, amount=None)
    assert (
        carry_discounts([(("p1", None, None), old_a)], [(("p1", None, None), small)])[
            0
        ].discount_amount
        == 100
    )
