"""Per-project rate limits of this server process (token buckets in memory).

A limit is per process: a fleet of N API processes lets a project make up to N times its
limit, so an operator sets the per-process figure to the fleet's figure divided by N (the
deployment guide says so). Counting in the database instead would make every read a
write; counting in a shared cache would add a service Tally does not otherwise need.
"""

import threading
import time

from tally.core.token_bucket import Bucket, Decision, Limit, full, take
from tally.errors import TallyError

# Buckets of projects idle this long, and full again, are forgotten (a full bucket is the
# same as none).
_IDLE_SECONDS = 300.0


def limit_of(per_second: float | None, burst: int | None) -> Limit | None:
    """The limit a setting names; None: no limit (0 or unset)."""
    if not per_second:
        return None
    return Limit(rate=per_second, burst=burst or max(1, round(per_second)))


class RateLimits:
    def __init__(self, default: Limit | None) -> None:
        self.default = default
        # Each project's bucket with the limit it was last counted under.
        self._buckets: dict[str, tuple[Bucket, Limit]] = {}
        self._lock = threading.Lock()
        self._swept = time.monotonic()

    def check(self, project_id: str, limit: Limit) -> Decision:
        now = time.monotonic()
        with self._lock:
            held = self._buckets.get(project_id)
            bucket = held[0] if held is not None else full(limit, now)
            bucket, decision = take(limit, bucket, now)
            self._buckets[project_id] = (bucket, limit)
            if now - self._swept > _IDLE_SECONDS:
                self._sweep(now)
        return decision

    def _sweep(self, now: float) -> None:
        self._swept = now
        for project_id, (bucket, limit) in list(self._buckets.items()):
            # Only a bucket that has filled up again is the same as none: forgetting one
            # still short of tokens (a slow limit: 0.01 a second) would hand them back.
            refilled = bucket.tokens + (now - bucket.at) * limit.rate >= limit.burst
            if now - bucket.at > _IDLE_SECONDS and refilled:
                del self._buckets[project_id]


def headers(limit: Limit, decision: Decision) -> list[tuple[bytes, bytes]]:
    out = [
        (b"x-rate-limit-limit", str(limit.burst).encode()),
        (b"x-rate-limit-remaining", str(decision.remaining).encode()),
        (b"x-rate-limit-reset", str(decision.reset_seconds).encode()),
    ]
    if not decision.allowed:
        out.append((b"retry-after", str(decision.retry_after_seconds).encode()))
    return out


def too_many_requests(limit: Limit, decision: Decision) -> TallyError:
    """Voucherify's 429 (openapi: "Too many requests hit the API too quickly.")."""
    return TallyError(
        429,
        "too_many_requests",
        "Too many requests hit the API too quickly.",
        f"This project may make {limit.rate:g} requests a second (bursts of {limit.burst}); "
        f"retry after {decision.retry_after_seconds} s",
    )
