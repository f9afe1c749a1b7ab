"""UNIT discounts in the core (BEHAVIOR.md 11.8): the worked example of
give-item-for-free-unit-discount.mdx with its exact numbers, each effect, and properties over
random carts."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tally.core.discounts import Cart
from tally.core.order_amounts import Line, price_line
from tally.core.units import FreeUnits, UnitDiscount, apply_units


def line(price: int, quantity: int, product_id: str) -> Line:
    made = price_line(price=price, quantity=quantity, amount=None)
    return Line(
        quantity=made.quantity,
        price=made.price,
        amount=made.amount,
        initial_quantity=made.initial_quantity,
        initial_amount=made.initial_amount,
        product_id=product_id,
    )


def test_add_many_items_worked_example() -> None:
    """Lines 2900 (red) and 3100 (blue), amount 6000; one red missing-item and one blue new
    item: amount 9100, items discount 6000, total 3100."""
    cart = Cart(
        amount=6000,
        discount_amount=0,
        lines=(line(2900, 1, "prod_red"), line(3100, 1, "prod_blue")),
    )
    step = apply_units(
        cart,
        UnitDiscount(
            (
                FreeUnits("ADD_MISSING_ITEMS", 1, "prod_red", 2900),
                FreeUnits("ADD_NEW_ITEMS", 1, "prod_blue", 3100),
            )
        ),
    )
    red, blue = step.cart.lines
    assert (red.quantity, red.discount_quantity, red.amount, red.discount_amount) == (
        1,
        1,
        2900,
        2900,
    )
    assert (blue.quantity, blue.discount_quantity, blue.amount, blue.discount_amount) == (
        2,
        1,
        6200,
        3100,
    )
    assert (red.initial_quantity, blue.initial_quantity, blue.initial_amount) == (1, 1, 3100)
    assert step.cart.amount == 9100
    assert step.cart.items_discount_amount == 6000
    assert step.cart.total_amount == 3100
    assert step.line_discounts == (2900, 3100)
    assert step.line_quantities == (0, 1)
    assert step.line_free_units == (1, 1)
    assert step.added_amount == 3100


def test_add_new_items_to_a_cart_with_the_product() -> None:
    """The guide's first case: a t-shirt in the cart, one new free t-shirt added."""
    cart = Cart(amount=2900, discount_amount=0, lines=(line(2900, 1, "prod_tee"),))
    step = apply_units(cart, UnitDiscount((FreeUnits("ADD_NEW_ITEMS", 1, "prod_tee", 2900),)))
    (tee,) = step.cart.lines
    assert (tee.quantity, tee.amount, tee.discount_amount) == (2, 5800, 2900)
    assert step.cart.total_amount == 2900


def test_missing_items_when_the_cart_already_has_them() -> None:
    cart = Cart(amount=2900, discount_amount=0, lines=(line(2900, 1, "prod_tee"),))
    step = apply_units(cart, UnitDiscount((FreeUnits("ADD_MISSING_ITEMS", 1, "prod_tee", 2900),)))
    (tee,) = step.cart.lines
    assert (tee.quantity, tee.amount, tee.discount_amount) == (1, 2900, 2900)
    assert step.cart.total_amount == 0
    assert step.added_amount == 0


def test_a_product_the_cart_lacks_gets_a_new_line() -> None:
    cart = Cart(amount=1000, discount_amount=0, lines=(line(1000, 1, "prod_other"),))
    step = apply_units(cart, UnitDiscount((FreeUnits("ADD_MISSING_ITEMS", 2, "prod_tee", 2900),)))
    other, tee = step.cart.lines
    assert other == cart.lines[0]
    assert (tee.quantity, tee.initial_quantity, tee.amount, tee.initial_amount) == (2, 0, 5800, 0)
    assert tee.discount_amount == 5800 and tee.discount_quantity == 2
    assert step.cart.amount == 6800 and step.cart.total_amount == 1000
    assert step.line_discounts == (0, 5800)


def test_a_product_without_a_price_discounts_nothing() -> None:
    """Free shipping of a product with no price: the unit is added, free of nothing."""
    cart = Cart(amount=1000, discount_amount=0, lines=(line(1000, 1, "prod_other"),))
    step = apply_units(cart, UnitDiscount((FreeUnits("ADD_MISSING_ITEMS", 1, "prod_ship", None),)))
    ship = step.cart.lines[1]
    assert (ship.quantity, ship.amount, ship.discount_amount, ship.discount_quantity) == (
        1,
        None,
        0,
        1,
    )
    assert step.cart.total_amount == 1000


products = st.sampled_from(["prod_a", "prod_b", "prod_c"])
lines = st.builds(line, st.integers(min_value=0, max_value=10**6), st.integers(1, 5), products)
unit_specs = st.tuples(
    st.sampled_from(["ADD_MISSING_ITEMS", "ADD_NEW_ITEMS"]), st.integers(1, 5), products
)
# One catalogue price per product, as the service looks them up (None: no price).
catalogue_prices = st.fixed_dictionaries(
    {name: st.one_of(st.none(), st.integers(0, 10**6)) for name in ("prod_a", "prod_b", "prod_c")}
)


@given(
    cart_lines=st.lists(lines, max_size=5),
    shortfall=st.integers(0, 10**6),
    order_discount=st.integers(0, 10**6),
    specs=st.lists(unit_specs, min_size=1, max_size=4),
    prices=catalogue_prices,
)
def test_unit_discounts_keep_every_invariant(
    cart_lines: list[Line],
    shortfall: int,
    order_discount: int,
    specs: list[tuple[str, int, str]],
    prices: dict[str, int | None],
) -> None:
    units = [
        FreeUnits(effect, unit_off, product, prices[product])  # type: ignore[arg-type]
        for effect, unit_off, product in specs
    ]
    total = sum(each.amount or 0 for each in cart_lines)
    cart = Cart(
        amount=max(0, total - shortfall),
        discount_amount=min(order_discount, max(0, total - shortfall)),
        lines=tuple(cart_lines),
    )
    step = apply_units(cart, UnitDiscount(tuple(units)))
    after = step.cart
    assert len(after.lines) == len(step.line_discounts) >= len(cart.lines)
    # Lines the cart had keep their place; what the step reports is what changed.
    for index, new in enumerate(after.lines):
        old = cart.lines[index] if index < len(cart.lines) else None
        old_discount = old.discount_amount if old else 0
        old_quantity = (old.quantity or 0) if old else 0
        assert new.discount_amount - old_discount == step.line_discounts[index] >= 0
        assert (new.quantity or 0) - old_quantity == step.line_quantities[index] >= 0
        assert new.discount_amount <= (new.amount or 0)
        if old is not None:
            assert new.initial_quantity == old.initial_quantity
            assert new.initial_amount == old.initial_amount
    assert after.amount == cart.amount + step.added_amount
    assert step.added_amount == sum(
        step.line_quantities[i] * (after.lines[i].price or 0) for i in range(len(after.lines))
    )
    # The order never goes below zero: its discounts never exceed its amount.
    assert after.discount_amount + after.items_discount_amount <= max(
        after.amount, cart.discount_amount + cart.items_discount_amount
    )
    assert after.total_amount >= 0


@pytest.mark.parametrize(
    ("effect", "in_cart", "quantity", "discount"),
    [
        # discount-types-and-effects.mdx, "Reward effects": a code for two free t-shirts.
        ("ADD_MISSING_ITEMS", 0, 2, 2 * 2500),
        ("ADD_MISSING_ITEMS", 1, 2, 2 * 2500),
        ("ADD_MISSING_ITEMS", 2, 2, 2 * 2500),
        ("ADD_NEW_ITEMS", 0, 2, 2 * 2500),
        ("ADD_NEW_ITEMS", 3, 5, 2 * 2500),
    ],
)
def test_two_free_t_shirts(effect: str, in_cart: int, quantity: int, discount: int) -> None:
    lines = (line(2500, in_cart, "prod_tee"),) if in_cart else ()
    cart = Cart(amount=2500 * in_cart, discount_amount=0, lines=lines)
    step = apply_units(cart, UnitDiscount((FreeUnits(effect, 2, "prod_tee", 2500),)))  # type: ignore[arg-type]
    (tee,) = step.cart.lines
    assert (tee.quantity, tee.discount_amount, tee.discount_quantity) == (quantity, discount, 2)
    assert step.cart.amount == 2500 * quantity
    assert step.cart.total_amount == 2500 * (quantity - 2)
