"""A token bucket: ``rate`` tokens a second flow into a bucket of ``burst``; a request
takes one or is refused. Pure: the caller passes the time."""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens a second, > 0
    burst: int  # the bucket's size, >= 1


@dataclass(frozen=True)
class Bucket:
    tokens: float
    at: float  # when ``tokens`` was counted (monotonic seconds)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int  # whole tokens left after this request
    reset_seconds: int  # until the bucket is full again
    retry_after_seconds: int  # until one token is there (0 when allowed)


def full(limit: Limit, now: float) -> Bucket:
    return Bucket(float(limit.burst), now)


def take(limit: Limit, bucket: Bucket, now: float) -> tuple[Bucket, Decision]:
    """Take one token at ``now``: the bucket after, and what to tell the caller."""
    # A clock that went backwards (it is monotonic, but buckets outlive nothing else)
    # adds nothing rather than taking tokens away.
    elapsed = max(0.0, now - bucket.at)
    tokens = min(float(limit.burst), bucket.tokens + elapsed * limit.rate)
    allowed = tokens >= 1.0
    if allowed:
        tokens -= 1.0
    after = Bucket(tokens, now)
    missing = limit.burst - tokens
    return after, Decision(
        allowed=allowed,
        remaining=int(tokens),
        reset_seconds=math.ceil(missing / limit.rate) if missing > 0 else 0,
        retry_after_seconds=0 if allowed else max(1, math.ceil((1.0 - tokens) / limit.rate)),
    )
