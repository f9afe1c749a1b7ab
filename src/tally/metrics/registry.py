"""The process's own metrics: what happened in this process since it started.

Counters and histograms of prometheus_client. With `tally serve --workers N` every worker is
a process of its own: the server then sets PROMETHEUS_MULTIPROC_DIR before the workers
start, prometheus_client keeps each process's values in a file there, and a scrape that
reaches any one worker adds up all of them (tally.metrics.exposition).

Recording a request costs a few microseconds: label children are looked up once and kept.
"""

import os
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.multiprocess import mark_process_dead

# The *_created series (when each counter was made) say nothing an operator uses.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Latency buckets from a cached read (under a millisecond) to a large import (seconds).
_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

http_requests = Counter(
    "tally_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
http_latency = Histogram(
    "tally_http_request_duration_seconds",
    "Time from the request's first byte to the end of its answer, by method and route.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
http_in_flight = Gauge(
    "tally_http_requests_in_flight",
    "Requests being handled now.",
    multiprocess_mode="livesum",
)
redemptions = Counter(
    "tally_redemptions",
    "Redemptions written (one per redeemable of a stacked request), by result.",
    ["result"],
)
rollbacks = Counter(
    "tally_rollbacks",
    "Redemption rollbacks written, by result.",
    ["result"],
)
session_waits = Counter(
    "tally_order_session_waits",
    "Requests that found their order in use by another request and waited for it.",
)
multiple_requests = Counter(
    "tally_order_session_refusals",
    "Requests refused with multiple_requests: their order (or, on SQLite, the write lock)"
    " stayed taken past the wait.",
)
database_busy = Counter(
    "tally_database_busy",
    "Requests whose SQLite write lock wait ran out (answered database_busy, or"
    " multiple_requests on an order).",
)
write_batches = Counter(
    "tally_write_batches",
    "SQLite commits of the event loop's writes (each request in a savepoint of its own).",
)
batched_writes = Counter(
    "tally_batched_writes",
    "Requests whose writes those commits made durable: divided by tally_write_batches_total,"
    " the requests a commit served.",
)
lost_write_batches = Counter(
    "tally_write_batches_lost",
    "Batches whose transaction ended without its commit; their requests were run again.",
)
rate_limited = Counter(
    "tally_rate_limited",
    "Requests refused with 429 by the project's rate limit.",
)
webhook_tries = Counter(
    "tally_webhook_tries",
    "Webhook delivery tries made by this process, by outcome (ok, failed).",
    ["outcome"],
)

# Label children by their label values: .labels() costs more than the increment itself.
# Bounded: methods are a fixed set, routes are templates, statuses are HTTP's.
_request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


# Methods are labels as they are; any other token (a server other than httptools accepts
# any) is "other", so requests cannot make series without end.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    if method not in _METHODS:
        method = "other"
    key = (method, route, status)
    children = _request_children.get(key)
    if children is None:
        children = _request_children[key] = (
            http_requests.labels(method, route, str(status)),
            http_latency.labels(method, route),
        )
    children[0].inc()
    children[1].observe(seconds)


def forget_dead_processes(directory: str) -> None:
    """Multiprocess mode: a worker process that died (and was replaced) leaves its live
    gauges' file behind, and its requests would count as in flight for ever."""
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, another user's
