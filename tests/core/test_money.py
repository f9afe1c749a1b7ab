"""Properties of the money primitives: integer cents, exact splits."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tally.core.money import allocate, round_half_up

weights = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=50)


@given(total=st.integers(min_value=0, max_value=10**13), weights=weights)
def test_allocation_parts_sum_exactly_to_the_total(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    assert all(p >= 0 for p in parts)


@given(total=st.integers(min_value=0, max_value=10**13), weights=weights)
def test_allocation_is_within_one_cent_of_the_exact_share(total: int, weights: list[int]) -> None:
    whole = sum(weights)
    parts = allocate(total, weights)
    if whole == 0:
        assert parts[0] == total
        return
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(total) * weight / whole
        assert abs(part - exact) < 1
        if weight == 0:
            assert part == 0


def test_allocation_example_from_the_docs() -> None:
    # extra/discount-effects.mdx: 1000 over lines of 2000 and 8000.
    assert allocate(1000, [2000, 8000]) == [200, 800]
    # Ties in the remainders go to the earlier line.
    assert allocate(1, [1, 1, 1]) == [1, 0, 0]
    assert allocate(2, [1, 1, 1]) == [1, 1, 0]


def test_allocation_rejects_what_cannot_be_split() -> None:
    with pytest.raises(ValueError):
        allocate(-1, [1])
    with pytest.raises(ValueError):
        allocate(1, [])
    with pytest.raises(ValueError):
        allocate(1, [-1, 2])


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.5, 1), (1.5, 2), (2.5, 3), (1.49, 1), (60000.0, 60000), (2100.4999, 2100), (7, 7)],
)
def test_round_half_up(value: float, expected: int) -> None:
    assert round_half_up(value) == expected


@given(st.integers(min_value=0, max_value=10**12))
def test_round_half_up_keeps_whole_cents(value: int) -> None:
    assert round_half_up(float(value)) == value
