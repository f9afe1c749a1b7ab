"""The Prometheus text of GET /metrics: this server's counters (all its worker processes'
when it runs several) and the database's queue figures, read now."""

import os
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from tally.metrics.repository import Deliveries, JobQueue

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class _Queues(Collector):
    def __init__(
        self,
        queue: list[JobQueue],
        failed: dict[str, int],
        deliveries: Deliveries,
        now: datetime,
    ) -> None:
        self._queue = queue
        self._failed = failed
        self._deliveries = deliveries
        self._now = now

    def _age(self, since: datetime | None) -> float:
        return max(0.0, (self._now - since).total_seconds()) if since is not None else 0.0

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "tally_jobs",
            "Jobs not finished, by kind and status (queued, running).",
            labels=["kind", "status"],
        )
        age = GaugeMetricFamily(
            "tally_jobs_oldest_age_seconds",
            "Age of the oldest job not finished, by kind and status (0: none).",
            labels=["kind", "status"],
        )
        for row in self._queue:
            depth.add_metric([row.kind, row.status], row.count)
            age.add_metric([row.kind, row.status], self._age(row.oldest))
        failed = GaugeMetricFamily(
            "tally_jobs_failed", "Jobs that ended failed, by kind.", labels=["kind"]
        )
        for kind, count in sorted(self._failed.items()):
            failed.add_metric([kind], count)
        d = self._deliveries
        yield depth
        yield age
        yield failed
        yield GaugeMetricFamily(
            "tally_webhook_deliveries_pending",
            "Webhook deliveries not yet made: first tries (events not yet sent) and retries.",
            d.pending,
        )
        yield GaugeMetricFamily(
            "tally_webhook_deliveries_retrying",
            "Pending webhook deliveries whose tries so far failed.",
            d.retrying,
        )
        yield GaugeMetricFamily(
            "tally_webhook_deliveries_overdue_seconds",
            "How long the most overdue delivery has been due, a first try since its event "
            "(0: none due).",
            self._age(d.oldest_due),
        )
        yield GaugeMetricFamily(
            "tally_webhook_relay_lag_seconds",
            "Age of the oldest event an active endpoint has not been sent yet (0: none).",
            self._age(d.oldest_unrelayed),
        )
        yield GaugeMetricFamily(
            "tally_webhook_endpoints_disabled",
            "Webhook endpoints switched off (by their owner, or after repeated failures).",
            d.disabled_endpoints,
        )


def render(
    queue: list[JobQueue], failed: dict[str, int], deliveries: Deliveries, now: datetime
) -> bytes:
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        process = generate_latest(registry)
    else:
        process = generate_latest(REGISTRY)
    queues = CollectorRegistry()
    queues.register(_Queues(queue, failed, deliveries, now))
    return process + generate_latest(queues)
