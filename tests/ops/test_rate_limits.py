"""Per-project rate limits: Voucherify's 429 and the X-Rate-Limit-* headers."""

from __future__ import annotations

from pathlib import Path

import pytest

import tally.web.ratelimits
from support.clock import Clock, fake_clock
from support.inprocess import open_app_client
from support.server import run_tally


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock the rate limiter reads."""
    return fake_clock(monkeypatch, tally.web.ratelimits)


def test_a_project_over_its_limit_gets_429_until_its_bucket_refills(
    migrated_db_url: str, clock: Clock
) -> None:
    # Two at once, then one every two seconds.
    with open_app_client(migrated_db_url, rate_limit_per_second=0.5, rate_limit_burst=2) as client:
        first = client.get("/v1/orders")
        second = client.get("/v1/orders")
        refused = client.post("/v1/orders", json={"amount": 100})
        assert [first.status_code, second.status_code, refused.status_code] == [200, 200, 429]
        assert first.headers["x-rate-limit-limit"] == "2"
        assert first.headers["x-rate-limit-remaining"] == "1"
        assert second.headers["x-rate-limit-remaining"] == "0"
        assert int(second.headers["x-rate-limit-reset"]) >= 1
        body = refused.json()
        assert body["code"] == 429
        assert body["key"] == "too_many_requests"
        assert body["message"] == "Too many requests hit the API too quickly."
        assert "0.5 requests a second" in body["details"]
        assert body["request_id"] == refused.headers["x-request-id"]
        assert refused.headers["x-rate-limit-remaining"] == "0"
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 2
        # Nothing was written by the refused request.
        assert client.get("/v1/orders").status_code == 429
        clock.advance(wait - 0.1)  # not quite a token yet
        assert client.get("/v1/orders").status_code == 429
        clock.advance(0.2)
        again = client.get("/v1/orders")
        assert again.status_code == 200, again.text
        assert again.json()["total"] == 0
        # Probes and the dashboard are not the API: never limited.
        assert client.anonymous.get("/health").status_code == 200


def test_projects_are_limited_apart_and_by_their_own_setting(
    migrated_db_url: str, tmp_path: Path, clock: Clock
) -> None:
    with open_app_client(migrated_db_url, rate_limit_per_second=0.5, rate_limit_burst=1) as client:
        other = client.new_project("other")
        roomy = client.new_project("roomy")
        run_tally(
            ["projects", "rate-limit", roomy.project_id, "--per-second", "0"],
            db_url=migrated_db_url,
            cwd=tmp_path,
        )
        shown = run_tally(
            ["projects", "rate-limit", roomy.project_id], db_url=migrated_db_url, cwd=tmp_path
        )
        assert shown.stdout.strip() == "no limit"
        assert client.get("/v1/orders").status_code == 200
        assert client.get("/v1/orders").status_code == 429
        # Another project has a bucket of its own.
        as_other = client.as_project(other)
        assert as_other.get("/v1/orders").status_code == 200
        assert as_other.get("/v1/orders").status_code == 429
        # A project whose own limit is 0 is not limited, and gets no limit headers.
        as_roomy = client.as_project(roomy)
        answers = [as_roomy.get("/v1/orders") for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5
        assert "x-rate-limit-limit" not in answers[0].headers


def test_no_limit_by_default(migrated_db_url: str) -> None:
    with open_app_client(migrated_db_url) as client:
        answers = [client.get("/v1/orders?limit=1") for _ in range(30)]
    assert {a.status_code for a in answers} == {200}
    assert "x-rate-limit-limit" not in answers[0].headers
