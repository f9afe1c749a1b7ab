"""The validation printer's quick path prints what the whole path prints, field for field
and in the same order, for any cart over the order's lines."""

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tally.core.discounts import Applied, Cart
from tally.core.order_amounts import Line
from tally.orders import presenter as orders
from tally.orders import service as orders_service
from tally.validations.presenter import OrderPrinter, with_applied

maybe_int = st.none() | st.integers(min_value=0, max_value=10**6)
snapshot = st.none() | st.fixed_dictionaries({"id": st.just("prod_1"), "name": st.text(max_size=5)})


@st.composite
def stored_lines(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "id": draw(st.none() | st.just("ordli_1")),
        "sku_id": draw(st.none() | st.just("sku_1")),
        "product_id": draw(st.none() | st.just("prod_1")),
        "related_object": draw(st.sampled_from([None, "product", "sku"])),
        "source_id": draw(st.none() | st.text(max_size=5)),
        "quantity": draw(maybe_int),
        "discount_quantity": draw(st.sampled_from([None, 0, 2])),
        "initial_quantity": draw(maybe_int),
        "amount": draw(maybe_int),
        "discount_amount": draw(st.sampled_from([None, 0, 150])),
        "initial_amount": draw(maybe_int),
        "price": draw(maybe_int),
        "product": draw(snapshot),
        "sku": draw(snapshot),
        "metadata": draw(st.none() | st.just({"gift": True})),
    }


cart_lines = st.builds(
    Line,
    quantity=maybe_int,
    price=maybe_int,
    amount=maybe_int,
    initial_quantity=maybe_int,
    initial_amount=maybe_int,
    discount_amount=st.integers(min_value=0, max_value=10**6),
    discount_quantity=st.sampled_from([0, 0, 3]),
)


def _order(items: list[dict[str, Any]], saved: bool) -> dict[str, Any]:
    return {
        "id": "ord_1" if saved else None,
        "source_id": None,
        "created_at": datetime(2026, 1, 2, tzinfo=UTC) if saved else None,
        "updated_at": None,
        "status": "CREATED",
        "amount": 1000,
        "initial_amount": 1000,
        "discount_amount": 0,
        "items_discount_amount": 0,
        "total_amount": 1000,
        "items": items,
        "metadata": {"a": 1},
        "customer_id": "cust_1" if saved else None,
        "referrer_id": None,
        "redemptions": {},
    }


def _whole(order: dict[str, Any], cart: Cart, applied: list[Applied]) -> dict[str, Any]:
    out = with_applied(orders.order_json(orders_service.with_cart(order, cart, {})), applied)
    for key in ("id", "created_at"):
        if out[key] is None:
            del out[key]
    return out


@given(
    st.lists(stored_lines(), max_size=4).flatmap(
        lambda stored: st.tuples(
            st.just(stored),
            st.lists(
                st.tuples(
                    st.lists(cart_lines, min_size=len(stored), max_size=len(stored)),
                    st.integers(min_value=0, max_value=500),
                ),
                min_size=1,
                max_size=3,
            ),
        )
    ),
    st.booleans(),
)
def test_quick_path_prints_what_the_whole_path_prints(
    case: tuple[list[dict[str, Any]], list[tuple[list[Line], int]]], saved: bool
) -> None:
    stored, carts = case
    order = _order(stored, saved)
    printer = OrderPrinter(order, {})
    for lines, order_discount in carts:
        cart = Cart(amount=1000, discount_amount=order_discount, lines=tuple(lines))
        step = Applied(
            cart=cart,
            discount_amount=order_discount,
            line_discounts=tuple(line.discount_amount for line in lines),
        )
        printed = printer.order_json(cart, [step])
        # json.dumps keeps the order of keys: same text, same fields in the same order.
        assert json.dumps(printed) == json.dumps(_whole(order, cart, [step]))


def test_a_cart_with_more_lines_is_printed_whole() -> None:
    stored = [{"id": "ordli_1", "quantity": 1, "amount": 500, "price": 500, "metadata": None}]
    order = _order(stored, saved=True)
    added = Line(quantity=1, price=0, amount=0, initial_quantity=0, initial_amount=0)
    first = Line(quantity=1, price=500, amount=500, initial_quantity=1, initial_amount=500)
    cart = Cart(amount=500, discount_amount=0, lines=(first, added))
    printed = OrderPrinter(order, {}).order_json(cart, [])
    whole = _whole(order, cart, [])
    assert len(printed["items"]) == 2
    # A line a discount adds gets a new id each time it is printed.
    assert printed["items"][1].pop("id") != whole["items"][1].pop("id")
    assert json.dumps(printed) == json.dumps(whole)
