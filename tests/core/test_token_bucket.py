"""The token bucket behind rate limits, property-tested."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from tally.core.token_bucket import Limit, full, take

limits = st.builds(
    Limit,
    rate=st.floats(min_value=0.01, max_value=1000, allow_nan=False),
    burst=st.integers(min_value=1, max_value=500),
)
# Gaps between requests, in seconds.
gaps = st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), max_size=200)


@given(limits, gaps)
def test_never_more_than_the_burst_plus_what_flowed_in(limit: Limit, steps: list[float]) -> None:
    now = 0.0
    bucket = full(limit, now)
    allowed = 0
    for gap in steps:
        now += gap
        bucket, decision = take(limit, bucket, now)
        allowed += decision.allowed
        assert allowed <= limit.burst + limit.rate * now + 1e-6
        assert 0 <= decision.remaining <= limit.burst - (1 if decision.allowed else 0)
        assert 0 <= bucket.tokens <= limit.burst
        if decision.allowed:
            assert decision.retry_after_seconds == 0
        else:
            # Waiting as told is enough for the next request.
            assert decision.retry_after_seconds >= 1
            _, later = take(limit, bucket, now + decision.retry_after_seconds)
            assert later.allowed


@given(limits, st.floats(min_value=0, max_value=10_000, allow_nan=False))
def test_a_full_bucket_allows_exactly_its_burst_at_once(limit: Limit, start: float) -> None:
    bucket = full(limit, start)
    answers = []
    for _ in range(limit.burst + 1):
        bucket, decision = take(limit, bucket, start)
        answers.append(decision.allowed)
    assert answers == [True] * limit.burst + [False]
    assert decision.reset_seconds == math.ceil(limit.burst / limit.rate)


@given(limits)
def test_a_clock_going_backwards_adds_nothing(limit: Limit) -> None:
    bucket = full(limit, 100.0)
    bucket, _ = take(limit, bucket, 100.0)
    before = bucket.tokens
    bucket, _ = take(limit, bucket, 50.0)
    assert bucket.tokens <= before
