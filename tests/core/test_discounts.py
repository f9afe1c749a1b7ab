"""The discount core (BEHAVIOR.md 5.10-5.15, 11): worked examples of the specification with
their exact numbers, and properties over random carts and stacks."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tally.core.discounts import EFFECTS, Applied, Cart, Discount, Target, apply, apply_all
from tally.core.money import allocate_capped
from tally.core.order_amounts import price_line


def cart(*line_values: int, amount: int | None = None, discount: int = 0) -> Cart:
    lines = tuple(price_line(price=v, quantity=1, amount=None) for v in line_values)
    return Cart(
        amount=sum(line_values) if amount is None else amount,
        discount_amount=discount,
        lines=lines,
    )


def priced(*lines: tuple[int, int]) -> Cart:
    """Lines of (price, quantity)."""
    made = tuple(price_line(price=p, quantity=q, amount=None) for p, q in lines)
    return Cart(amount=sum(p * q for p, q in lines), discount_amount=0, lines=made)


def amount_off(value: int, effect: str = "APPLY_TO_ORDER", **limits: int) -> Discount:
    return Discount("AMOUNT", effect, amount_off=value, **limits)  # type: ignore[arg-type]


def percent_off(value: str, effect: str = "APPLY_TO_ORDER", **limits: int) -> Discount:
    return Discount("PERCENT", effect, percent_off=Fraction(value), **limits)  # type: ignore[arg-type]


# --- worked examples -------------------------------------------------------------------


def test_example_a_five_redeemables_in_request_order() -> None:
    """BEHAVIOR 5.12 (validations.json "True - 5 Redeemables"); the gift card's 100 credits
    and the loyalty card (no effect) are stood in for by what they do to the amounts."""
    steps = apply_all(
        cart(2000, 700),
        [
            (amount_off(1000, "APPLY_TO_ITEMS"), None),
            (amount_off(100), None),  # gift card: 100 credits, order-level
            (percent_off("40"), None),
            (amount_off(30), None),
        ],
    )
    assert steps[0].line_discounts == (1000, 700)
    assert steps[0].cart.total_amount == 1000
    assert [s.discount_amount for s in steps[1:]] == [100, 360, 30]
    final = steps[-1].cart
    assert final.discount_amount == 490
    assert final.items_discount_amount == 1700
    assert final.total_amount == 510
    assert [line.subtotal_amount for line in final.lines] == [1000, 0]
    assert sum(s.total_discount_amount for s in steps) == 2190


def test_example_b_running_total() -> None:
    """BEHAVIOR 5.13 (manage-stackable-discounts): 100, then 20 % of 199,900, then 8,000."""
    steps = apply_all(
        Cart(amount=200000, discount_amount=0, lines=()),
        [(amount_off(100), None), (percent_off("20"), None), (amount_off(8000), None)],
    )
    assert [s.discount_amount for s in steps] == [100, 39980, 8000]
    assert [s.cart.discount_amount for s in steps] == [100, 40080, 48080]
    assert [s.cart.total_amount for s in steps] == [199900, 159920, 151920]
    assert steps[-1].cart.total_amount == 151920


def test_example_c_a_later_discount_is_capped_by_what_is_left() -> None:
    """BEHAVIOR 5.14 / 5.7: 9,200 of 10,000 already discounted; 1,000 off applies 800."""
    step = apply(Cart(amount=10000, discount_amount=9200, lines=()), amount_off(1000))
    assert step.discount_amount == 800
    assert (step.cart.discount_amount, step.cart.total_amount) == (10000, 0)


def test_proportional_split_by_value() -> None:
    """BEHAVIOR 11.5: lines of 2,000 and 8,000 share 1,000 as 200 and 800."""
    step = apply(cart(2000, 8000), amount_off(1000, "APPLY_TO_ITEMS_PROPORTIONALLY"))
    assert step.line_discounts == (200, 800)


def test_proportional_split_by_quantity() -> None:
    """BEHAVIOR 11.5: 2, 3 and 3 units share $10 as 2.50, 3.75, 3.75."""
    step = apply(
        priced((1000, 2), (1000, 3), (1000, 3)),
        amount_off(1000, "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY"),
    )
    assert step.line_discounts == (250, 375, 375)


# discount-types-and-effects.mdx, "Product discount effects": mug 10 x 2, poster 15 x 3,
# t-shirt 20 x 3, bottle 25 x 2 (dollars); the discount targets the first three lines.
SAMPLE = priced((1000, 2), (1500, 3), (2000, 3), (2500, 2))
BRANDED = [0, 1, 2]


@pytest.mark.parametrize(
    ("discount", "lines", "total"),
    [
        (amount_off(1000, "APPLY_TO_ITEMS"), (1000, 1000, 1000, 0), 14500),
        (amount_off(1000, "APPLY_TO_ITEMS_BY_QUANTITY"), (2000, 3000, 3000, 0), 9500),
        (amount_off(1000, "APPLY_TO_ITEMS_PROPORTIONALLY"), (160, 360, 480, 0), 16500),
        (amount_off(1000, "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY"), (250, 375, 375, 0), 16500),
        (percent_off("10", "APPLY_TO_ITEMS"), (200, 450, 600, 0), 16250),
        (Discount("FIXED", "APPLY_TO_ITEMS", fixed_amount=1000), (0, 1500, 3000, 0), 13000),
    ],
    ids=["per-line", "per-unit", "by-value", "by-quantity", "percent", "new-price"],
)
def test_product_discount_effects_sample_order(
    discount: Discount, lines: tuple[int, ...], total: int
) -> None:
    step = apply(SAMPLE, discount, BRANDED)
    assert step.line_discounts == lines
    assert step.cart.total_amount == total


def test_discount_effects_page_examples() -> None:
    """extra/discount-effects.mdx: 10 % off a client amount of 20,050 (lines worth less);
    1,000 split over the mug (2,000) and pen (8,000) of a 195,000 order."""
    odd = Cart(amount=20050, discount_amount=0, lines=cart(3000, 2000, 1000).lines)
    step = apply(odd, percent_off("10"))
    assert (step.discount_amount, step.cart.total_amount) == (2005, 18045)
    order = cart(2000, 8000, 5000, 180000)
    split = apply(order, amount_off(1000, "APPLY_TO_ITEMS_PROPORTIONALLY"), [0, 1])
    assert split.line_discounts == (200, 800, 0, 0)
    assert split.cart.total_amount == 194000
    each = apply(order, amount_off(1000, "APPLY_TO_ITEMS"), [0, 1])
    assert each.line_discounts == (1000, 1000, 0, 0)
    assert each.cart.total_amount == 193000


def test_split_remainders_go_to_the_largest_remainder_then_the_earlier_line() -> None:
    step = apply(cart(100, 100, 100), amount_off(100, "APPLY_TO_ITEMS_PROPORTIONALLY"))
    assert step.line_discounts == (34, 33, 33)


def test_a_line_too_small_for_its_quantity_share_passes_the_rest_on() -> None:
    # 1 unit worth 50 and 1 unit worth 1,000 share 600 by quantity: 300 each, but the first
    # line has only 50; the other 250 go to the second line.
    step = apply(
        priced((50, 1), (1000, 1)), amount_off(600, "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY")
    )
    assert step.line_discounts == (50, 550)


def test_amount_per_unit_is_capped_at_the_line() -> None:
    step = apply(priced((300, 2), (100, 3)), amount_off(150, "APPLY_TO_ITEMS_BY_QUANTITY"))
    assert step.line_discounts == (300, 300)


def test_percent_on_items_rounds_half_up_per_line_and_respects_limits() -> None:
    step = apply(cart(1005, 1015, 5000), percent_off("10", "APPLY_TO_ITEMS", amount_limit=400))
    # 100.5 -> 101, 101.5 -> 102, 500 -> capped at 400.
    assert step.line_discounts == (101, 102, 400)
    limited = apply(
        cart(1000, 3000), percent_off("50", "APPLY_TO_ITEMS", aggregated_amount_limit=1000)
    )
    # 500 + 1,500 over the 1,000 limit: split 250 / 750 in proportion.
    assert limited.line_discounts == (250, 750)


def test_fractional_percent_is_exact() -> None:
    # 12.5 % of 1,004 = 125.5 -> 126 (a float would give 125.49999...).
    assert apply(cart(1004), percent_off("12.5")).discount_amount == 126


def test_percent_on_order_is_capped_by_amount_limit() -> None:
    assert apply(cart(10000), percent_off("30", amount_limit=2000)).discount_amount == 2000


def test_fixed_price_on_order_and_on_items() -> None:
    assert (
        apply(cart(5000), Discount("FIXED", "APPLY_TO_ORDER", fixed_amount=3000)).discount_amount
        == 2000
    )
    assert (
        apply(cart(2000), Discount("FIXED", "APPLY_TO_ORDER", fixed_amount=3000)).discount_amount
        == 0
    )
    # Every unit of a targeted line costs 500 now: 2 x (800 - 500); the other line is untouched.
    step = apply(
        priced((800, 2), (900, 1)), Discount("FIXED", "APPLY_TO_ITEMS", fixed_amount=500), [0]
    )
    assert step.line_discounts == (600, 0)


def test_item_effects_only_touch_their_targets() -> None:
    step = apply(cart(2000, 700, 300), amount_off(500, "APPLY_TO_ITEMS"), targets=[1, 2])
    assert step.line_discounts == (0, 500, 300)


def test_unit_caps_of_a_target_limit_the_units_discounted() -> None:
    """extra/discount-effects.mdx, each unit of matched product: $5 a unit, one product at
    most 1 unit a line and 1 in all, the other at most 2 a line and 3 in all."""
    order = priced((1000, 3), (2000, 4), (2000, 1), (1500, 2))
    step = apply(
        order,
        amount_off(500, "APPLY_TO_ITEMS_BY_QUANTITY"),
        [
            Target((0,), quantity_limit=1, aggregated_quantity_limit=1),
            Target((1, 2), quantity_limit=2, aggregated_quantity_limit=3),
        ],
    )
    assert step.line_discounts == (500, 1000, 500, 0)


def test_amount_caps_of_a_target_limit_each_line_and_all_its_lines() -> None:
    order = priced((1000, 3), (2000, 4), (500, 1))
    tenth = percent_off("10", "APPLY_TO_ITEMS")
    # 300, 800, 50 uncapped; at most 500 a line (300, 500, 50), then 700 over the
    # target's lines, split in proportion (247.06, 411.76, 41.18: the largest remainder
    # gets the last cent).
    step = apply(order, tenth, [Target((0, 1, 2), amount_limit=500, aggregated_amount_limit=700)])
    assert step.line_discounts == (247, 412, 41)
    assert sum(step.line_discounts) == 700
    # Two units of the 4 at 2000: a tenth of their 4000.
    assert apply(order, tenth, [Target((1,), quantity_limit=2)]).line_discounts == (0, 400, 0)
    # A line two targets name belongs to the first.
    step = apply(order, tenth, [Target((1,), quantity_limit=1), Target((0, 1))])
    assert step.line_discounts == (300, 200, 0)


def test_percent_on_a_quantity_limited_line_is_rounded_once() -> None:
    """BEHAVIOR 5.15: a line of 3 units worth 2,005, 1 unit reached: 30 % of exactly
    2,005 x 1/3 is 200.5, rounded half up once to 201 (flooring the unit's value to 668
    first gave 200.4, so 200)."""
    line = price_line(price=None, quantity=3, amount=2005)
    order = Cart(amount=2005, discount_amount=0, lines=(line,))
    thirty = percent_off("30", "APPLY_TO_ITEMS")
    step = apply(order, thirty, [Target((0,), quantity_limit=1)])
    assert step.line_discounts == (201,)
    assert step.cart.total_amount == 1804
    # The same through an aggregated cap of 1 unit over the target's lines.
    assert apply(order, thirty, [Target((0,), aggregated_quantity_limit=1)]).line_discounts == (
        201,
    )


def test_other_discounts_on_a_quantity_limited_line_round_its_exact_value_once() -> None:
    """BEHAVIOR 5.15 for the effects the reached units' value caps: 2 of 3 units of a line
    worth 2,005 are worth exactly 1,336 2/3. Free: 1,337 (half up, not floored to 1,336);
    priced at 500 each: 1,336 2/3 - 1,000 = 336 2/3, so 337."""
    line = price_line(price=None, quantity=3, amount=2005)
    order = Cart(amount=2005, discount_amount=0, lines=(line,))
    two = [Target((0,), quantity_limit=2)]
    fixed = Discount("FIXED", "APPLY_TO_ITEMS", fixed_amount=500)
    assert apply(order, fixed, two).line_discounts == (337,)
    for effect in EFFECTS["AMOUNT"][1:]:
        assert apply(order, amount_off(5000, effect), two).line_discounts == (1337,), effect
    # Below the value the amount off is exact and stays as it is.
    assert apply(order, amount_off(1000, "APPLY_TO_ITEMS"), two).line_discounts == (1000,)


def test_item_discounts_stop_at_what_is_left_to_pay() -> None:
    # The client's amount (1,000) is below its lines (3,000): item discounts cannot take
    # the order below zero either.
    step = apply(cart(1000, 2000, amount=1000), amount_off(2000, "APPLY_TO_ITEMS"))
    assert sum(step.line_discounts) == 1000
    assert step.line_discounts == (333, 667)
    assert step.cart.total_amount == 0


def test_effects_a_type_does_not_have_are_refused() -> None:
    with pytest.raises(ValueError, match="no effect"):
        Discount("PERCENT", "APPLY_TO_ITEMS_PROPORTIONALLY", percent_off=Fraction(10))
    with pytest.raises(ValueError, match="value"):
        Discount("AMOUNT", "APPLY_TO_ORDER")
    with pytest.raises(ValueError, match="negative"):
        Discount("AMOUNT", "APPLY_TO_ORDER", amount_off=-1)


def test_capped_allocation_refuses_what_cannot_be_placed() -> None:
    with pytest.raises(ValueError, match="more than"):
        allocate_capped(10, [1, 0], [5, 100])


# --- properties --------------------------------------------------------------------------

money = st.integers(min_value=0, max_value=10**7)


@st.composite
def carts(draw: st.DrawFn) -> Cart:
    made = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        price = draw(st.integers(min_value=0, max_value=10**6))
        quantity = draw(st.none() | st.integers(min_value=1, max_value=20))
        made.append(price_line(price=price, quantity=quantity, amount=None))
    amount = draw(st.just(sum(line.amount or 0 for line in made)) | money)
    # Discounts from earlier requests, within what the order allows.
    left = amount
    discounted = []
    for line in made:
        taken = draw(st.integers(min_value=0, max_value=min(line.amount or 0, left)))
        left -= taken
        discounted.append(line._replace(discount_amount=taken))
    order_discount = draw(st.integers(min_value=0, max_value=left))
    return Cart(amount=amount, discount_amount=order_discount, lines=tuple(discounted))


@st.composite
def discounts(draw: st.DrawFn) -> Discount:
    kind = draw(st.sampled_from(["AMOUNT", "PERCENT", "FIXED"]))
    effect = draw(st.sampled_from(EFFECTS[kind]))
    limits = {
        "amount_limit": draw(st.none() | money),
        "aggregated_amount_limit": draw(st.none() | money),
    }
    if kind == "AMOUNT":
        return Discount("AMOUNT", effect, amount_off=draw(money), **limits)  # type: ignore[arg-type]
    if kind == "PERCENT":
        percent = draw(st.fractions(min_value=0, max_value=100, max_denominator=1000))
        return Discount("PERCENT", effect, percent_off=percent, **limits)  # type: ignore[arg-type]
    return Discount("FIXED", effect, fixed_amount=draw(money), **limits)  # type: ignore[arg-type]


@st.composite
def stacks(draw: st.DrawFn, size: int) -> list[tuple[Discount, list[int] | None]]:
    out: list[tuple[Discount, list[int] | None]] = []
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        targets = draw(st.none() | st.lists(st.integers(min_value=0, max_value=max(size - 1, 0))))
        out.append((draw(discounts()), targets if size else None))
    return out


@st.composite
def target_lists(draw: st.DrawFn, size: int) -> list[Target] | None:
    if not size or draw(st.booleans()):
        return None
    caps = st.none() | st.integers(min_value=0, max_value=30)
    amounts = st.none() | money
    return [
        Target(
            tuple(draw(st.lists(st.integers(min_value=0, max_value=size - 1), max_size=size))),
            quantity_limit=draw(caps),
            aggregated_quantity_limit=draw(caps),
            amount_limit=draw(amounts),
            aggregated_amount_limit=draw(amounts),
        )
        for _ in range(draw(st.integers(min_value=1, max_value=3)))
    ]


@given(carts().flatmap(lambda c: st.tuples(st.just(c), discounts(), target_lists(len(c.lines)))))
def test_targets_and_their_caps_hold_in_every_step(
    case: tuple[Cart, Discount, list[Target] | None],
) -> None:
    start, discount, targets = case
    step = apply(start, discount, targets)
    check_invariants(start, step)
    if targets is None or discount.effect == "APPLY_TO_ORDER":
        return
    owner: dict[int, Target] = {}
    for target in targets:
        for index in target.lines:
            owner.setdefault(index, target)
    for index, part in enumerate(step.line_discounts):
        target = owner.get(index)
        if target is None:
            assert part == 0  # a line no target names is never discounted
        elif target.amount_limit is not None:
            assert part <= target.amount_limit
        if target is not None and (
            target.quantity_limit == 0 or target.aggregated_quantity_limit == 0
        ):
            assert part == 0
    for target in targets:
        if target.aggregated_amount_limit is not None:
            mine = {i for i, t in owner.items() if t is target}
            assert sum(step.line_discounts[i] for i in mine) <= target.aggregated_amount_limit
        if discount.type == "AMOUNT" and discount.effect == "APPLY_TO_ITEMS_BY_QUANTITY":
            assert discount.amount_off is not None
            for i in (i for i, t in owner.items() if t is target):
                reached = start.lines[i].quantity or 1
                if target.quantity_limit is not None:
                    reached = min(reached, target.quantity_limit)
                assert step.line_discounts[i] <= discount.amount_off * reached


def check_invariants(before: Cart, step: Applied) -> None:
    after = step.cart
    assert step.discount_amount >= 0 and all(p >= 0 for p in step.line_discounts)
    # What the step reports is exactly what moved on the cart.
    assert after.discount_amount == before.discount_amount + step.discount_amount
    for old, new, part in zip(before.lines, after.lines, step.line_discounts, strict=True):
        assert new.discount_amount == old.discount_amount + part
        assert new.discount_amount <= (new.amount or 0)  # never more than the line
    assert after.items_discount_amount == before.items_discount_amount + step.items_discount_amount
    # The order never goes below zero, and its figures reconcile.
    assert after.discount_amount + after.items_discount_amount <= after.amount
    assert after.total_amount == max(
        0, after.amount - after.discount_amount - after.items_discount_amount
    )
    assert step.total_discount_amount <= before.total_amount


@given(carts().flatmap(lambda c: st.tuples(st.just(c), stacks(len(c.lines)))))
def test_every_stack_keeps_the_invariants(
    case: tuple[Cart, list[tuple[Discount, list[int] | None]]],
) -> None:
    start, stack = case
    before = start
    for step in apply_all(start, stack):
        check_invariants(before, step)
        before = step.cart


@given(carts(), discounts())
def test_a_discount_never_exceeds_its_own_limits(start: Cart, discount: Discount) -> None:
    step = apply(start, discount)
    if discount.aggregated_amount_limit is not None:
        assert step.total_discount_amount <= discount.aggregated_amount_limit
    if discount.amount_limit is not None:
        if discount.effect == "APPLY_TO_ORDER":
            assert step.discount_amount <= discount.amount_limit
        elif discount.effect == "APPLY_TO_ITEMS":
            assert all(p <= discount.amount_limit for p in step.line_discounts)
    if discount.type == "AMOUNT":
        assert discount.amount_off is not None
        if discount.effect in (
            "APPLY_TO_ORDER",
            "APPLY_TO_ITEMS_PROPORTIONALLY",
            "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY",
        ):
            assert step.total_discount_amount <= discount.amount_off


@given(carts(), discounts())
def test_a_split_amount_is_placed_whole_when_the_lines_can_take_it(
    start: Cart, discount: Discount
) -> None:
    if discount.type != "AMOUNT" or "PROPORTIONALLY" not in discount.effect:
        return
    assert discount.amount_off is not None
    bases = [max(0, (line.amount or 0) - line.discount_amount) for line in start.lines]
    room = min(sum(bases), start.total_amount)
    if discount.aggregated_amount_limit is not None:
        room = min(room, discount.aggregated_amount_limit)
    step = apply(start, discount)
    assert step.items_discount_amount == min(discount.amount_off, room)


@given(
    st.integers(min_value=0, max_value=10**6),
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 10**5)), min_size=1, max_size=8),
)
def test_capped_allocation_places_everything_within_caps(
    total: int, pairs: list[tuple[int, int]]
) -> None:
    weights = [w for w, _ in pairs]
    caps = [c for _, c in pairs]
    room = sum(c for w, c in pairs if w > 0)
    total = min(total, room)
    parts = allocate_capped(total, weights, caps)
    assert sum(parts) == total
    assert all(0 <= p <= c for p, c in zip(parts, caps, strict=True))
    assert all(p == 0 for p, w in zip(parts, weights, strict=True) if w == 0)


@given(
    st.integers(min_value=0, max_value=10**13),
    st.fractions(min_value=0, max_value=100, max_denominator=10**6),
)
def test_percentages_round_half_up_exactly(base: int, percent: Fraction) -> None:
    from tally.core.discounts import _percent_of

    exact = Fraction(base) * percent / 100
    assert _percent_of(base, percent) == int(exact + Fraction(1, 2))


@st.composite
def limited_carts(draw: st.DrawFn) -> tuple[Cart, list[Target], Fraction]:
    """Lines of several units, maybe discounted before, each its own target with a
    ``quantity_limit`` (mostly below its quantity), and a percentage."""
    lines = []
    targets = []
    for index in range(draw(st.integers(min_value=1, max_value=4))):
        quantity = draw(st.integers(min_value=1, max_value=50))
        amount = draw(st.integers(min_value=0, max_value=10**9))
        line = price_line(price=None, quantity=quantity, amount=amount)
        lines.append(line._replace(discount_amount=draw(st.just(0) | st.integers(0, amount))))
        limit = draw(st.integers(min_value=0, max_value=quantity + 1))
        targets.append(Target((index,), quantity_limit=limit))
    percent = draw(st.fractions(min_value=0, max_value=100, max_denominator=1000))
    order = Cart(amount=sum(line.amount or 0 for line in lines), discount_amount=0, lines=())
    return order._replace(lines=tuple(lines)), targets, percent


@given(limited_carts())
def test_percent_on_quantity_limited_lines_is_the_exact_value_rounded_once(
    case: tuple[Cart, list[Target], Fraction],
) -> None:
    """BEHAVIOR 5.15: each line's discount is what is left on it (its amount, less earlier
    item discounts) x reached units / its quantity x percent / 100, exactly, rounded half up
    once; never more than what is left on the line, nor than its amount."""
    order, targets, percent = case
    step = apply(order, Discount("PERCENT", "APPLY_TO_ITEMS", percent_off=percent), targets)
    for line, target, part in zip(order.lines, targets, step.line_discounts, strict=True):
        assert line.amount is not None and line.quantity is not None
        assert target.quantity_limit is not None
        reached = min(line.quantity, target.quantity_limit)
        left = line.amount - line.discount_amount
        exact = Fraction(left) * Fraction(reached, line.quantity) * percent / 100
        assert part == int(exact + Fraction(1, 2))
        assert part <= left <= line.amount
    check_invariants(order, step)
