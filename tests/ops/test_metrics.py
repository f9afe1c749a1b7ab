"""GET /metrics: the process's counters and the database's queues, in Prometheus text."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from support.inprocess import AppClient, open_app_client
from support.server import start_live_server


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, parsed by Prometheus's own parser."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def scrape(client: AppClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.anonymous.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


VOUCHERS = {
    "MET-TEN": {"type": "AMOUNT", "amount_off": 1000},
    "MET-PCT": {"type": "PERCENT", "percent_off": 10},
}


def test_requests_redemptions_and_rollbacks_are_counted(migrated_db_url: str) -> None:
    with open_app_client(migrated_db_url) as client:
        for code, discount in VOUCHERS.items():
            assert (
                client.post(
                    f"/v1/vouchers/{code}", json={"type": "DISCOUNT_VOUCHER", "discount": discount}
                ).status_code
                == 200
            )
        before = scrape(client)
        order = {"amount": 20_000}
        redeemed = client.post(
            "/v1/redemptions",
            json={
                "redeemables": [{"object": "voucher", "id": code} for code in VOUCHERS],
                "order": order,
            },
        )
        assert redeemed.status_code == 200, redeemed.text
        refused = client.post(
            "/v1/redemptions",
            json={"redeemables": [{"object": "voucher", "id": "NO-SUCH"}], "order": order},
        )
        assert refused.status_code in (400, 404)
        parent = redeemed.json()["parent_redemption"]["id"]
        assert client.post(f"/v1/redemptions/{parent}/rollbacks").status_code == 200
        assert client.get("/v1/orders/ord_nothing_here").status_code == 404
        after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("tally_redemptions_total", result="SUCCESS") == 2
    assert delta("tally_rollbacks_total", result="SUCCESS") == 2
    # The route's template, never the id in the path.
    assert (
        delta("tally_http_requests_total", method="GET", route="/v1/orders/{orderId}", status="404")
        == 1
    )
    assert not any("ord_nothing_here" in str(key) for key in after)
    assert (
        delta("tally_http_requests_total", method="POST", route="/v1/redemptions", status="200")
        == 1
    )
    assert (
        delta("tally_http_request_duration_seconds_count", method="POST", route="/v1/redemptions")
        == 2
    )
    assert (
        delta(
            "tally_http_request_duration_seconds_bucket",
            method="POST",
            route="/v1/redemptions",
            le="+Inf",
        )
        == 2
    )


def test_job_queue_and_webhook_deliveries_are_read_from_the_database(
    migrated_db_url: str,
) -> None:
    # No runner and no deliverer in this app: what is queued stays queued.
    with open_app_client(
        migrated_db_url, jobs_in_server=False, webhooks_allow_private=True
    ) as client:
        empty = scrape(client)
        assert value(empty, "tally_jobs", kind="orders.import", status="queued") == 0
        assert value(empty, "tally_webhook_deliveries_pending") == 0
        queued = client.post("/v1/orders/import", json=[{"source_id": "m-1", "amount": 100}])
        assert queued.status_code == 202 or queued.status_code == 200, queued.text
        hook = client.post(
            "/v1/webhooks",
            json={"url": "http://127.0.0.1:9/hook", "events": ["customer.order.created"]},
        )
        assert hook.status_code in (200, 201), hook.text
        assert (
            client.post("/v1/orders", json={"source_id": "m-2", "amount": 100}).status_code == 200
        )
        time.sleep(0.05)  # the event is then at least this old
        found = scrape(client)
    kinds = {
        dict(labels)["kind"]
        for (name, labels), v in found.items()
        if name == "tally_jobs" and v == 1 and dict(labels)["status"] == "queued"
    }
    assert len(kinds) == 1  # the import, under its job kind
    kind = kinds.pop()
    assert value(found, "tally_jobs_oldest_age_seconds", kind=kind, status="queued") >= 0
    # The order's event has not been sent (no deliverer runs here): the relay is behind, and
    # its delivery is pending, due since the event.
    assert value(found, "tally_webhook_relay_lag_seconds") >= 0.05
    assert value(found, "tally_webhook_deliveries_pending") == 1
    assert value(found, "tally_webhook_deliveries_retrying") == 0
    assert value(found, "tally_webhook_deliveries_overdue_seconds") >= 0.05
    assert value(empty, "tally_webhook_relay_lag_seconds") == 0


def test_a_metrics_token_is_required_when_set(migrated_db_url: str) -> None:
    with open_app_client(migrated_db_url, metrics_token="s3cret-scrape") as client:
        assert client.anonymous.get("/metrics").status_code == 401
        wrong = client.anonymous.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert wrong.json()["key"] == "unauthorized"
        right = client.anonymous.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
        assert right.status_code == 200
        assert "tally_http_requests_total" in right.text


def test_a_server_of_two_processes_reports_the_sum_of_both(
    migrated_db_url: str, tmp_path: Path
) -> None:
    """With --workers 2, a scrape reaching either process counts the requests of both."""
    server = start_live_server(migrated_db_url, tmp_path / "server", workers=2)
    try:
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=30) as http:
            sent = 40
            for n in range(sent):
                assert http.get(f"/v1/orders?limit=1&page={n % 3 + 1}").status_code == 200

        def counted() -> float:
            # A new connection each time, so that scrapes land on both processes.
            with httpx.Client(base_url=server.base_url, timeout=30) as fresh:
                found = samples(fresh.get("/metrics").text)
            return value(
                found, "tally_http_requests_total", method="GET", route="/v1/orders", status="200"
            )

        # A process counts a request just after its answer is sent: the last one may be
        # counted a moment after the client has it.
        deadline = time.monotonic() + 10
        while (seen := counted()) != sent:
            assert seen < sent, seen
            assert time.monotonic() < deadline, f"{seen} of {sent} requests counted"
            time.sleep(0.02)
        for _ in range(6):
            assert counted() == sent
    finally:
        server.stop()


def test_a_dead_worker_s_live_gauges_are_forgotten(tmp_path: Path) -> None:
    """--workers N: a worker that died leaves its in-flight gauge file; the next worker to
    start drops it, so its requests do not stay in flight for ever."""
    import os
    import subprocess
    import sys

    from tally.metrics.registry import forget_dead_processes

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = tmp_path / f"gauge_livesum_{gone.pid}.db"
    alive = tmp_path / f"gauge_livesum_{os.getpid()}.db"
    counter = tmp_path / f"counter_{gone.pid}.db"  # counters of the dead stay counted
    for path in (dead, alive, counter):
        path.write_bytes(b"")
    forget_dead_processes(str(tmp_path))
    assert not dead.exists()
    assert alive.exists() and counter.exists()
