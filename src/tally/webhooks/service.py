"""Webhook endpoints (a Tally extension, BEHAVIOR 20.7) and the deliveries of events to them.

Keyword-only functions over one connection; the caller owns the transaction.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from tally import ids
from tally.clock import iso
from tally.db.prepared import Row
from tally.errors import invalid_payload, not_found
from tally.events.recorder import EVENT_TYPES
from tally.webhooks import addresses, repository, signing
from tally.webhooks.sender import Outcome
from tally.webhooks.tables import DELIVERY_ID_PREFIX, WEBHOOK_ID_PREFIX

ALL_EVENTS = "*"

# When the retries of a failed delivery are due, in minutes after its first try
# (BEHAVIOR 20.6): twelve retries over 24 hours. The thirteenth failure ends it.
RETRY_AFTER_MINUTES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1440)
MAX_TRIES = len(RETRY_AFTER_MINUTES) + 1


def _checked_events(names: list[str]) -> list[str]:
    unknown = [n for n in names if n != ALL_EVENTS and n not in EVENT_TYPES]
    if unknown:
        raise invalid_payload(
            f"Unknown event type {unknown[0]}; allowed: {ALL_EVENTS}, " + ", ".join(EVENT_TYPES)
        )
    return list(dict.fromkeys(names))


def _checked_url(url: str, allow_private: bool) -> str:
    try:
        addresses.resolve(addresses.parse(url), allow_private=allow_private)
    except addresses.Refused as exc:
        raise invalid_payload(f"Webhook url refused: {exc}") from None
    return url


def create(
    conn: Connection,
    *,
    project_id: str,
    url: str,
    events: list[str],
    allow_private: bool,
    now: datetime,
) -> dict[str, Any]:
    row = {
        "id": ids.new_id(WEBHOOK_ID_PREFIX),
        "project_id": project_id,
        "url": _checked_url(url, allow_private),
        "events": _checked_events(events),
        "secret": signing.new_secret(),
        "active": True,
        "disabled_reason": None,
        "created_at": now,
        "updated_at": None,
    }
    repository.insert(conn, row)
    return row


def get(conn: Connection, *, project_id: str, webhook_id: str) -> Row:
    row = repository.get(conn, project_id, webhook_id)
    if row is None:
        raise not_found("webhook", webhook_id)
    return row


def update(
    conn: Connection,
    *,
    project_id: str,
    webhook_id: str,
    url: str | None,
    events: list[str] | None,
    active: bool | None,
    allow_private: bool,
    now: datetime,
) -> Row:
    row = get(conn, project_id=project_id, webhook_id=webhook_id)
    values: dict[str, Any] = {}
    if url is not None:
        values["url"] = _checked_url(url, allow_private)
    if events is not None:
        values["events"] = _checked_events(events)
    if active is not None and active != row["active"]:
        values["active"] = active
        values["disabled_reason"] = None if active else "disabled by the API"
    if values:
        values["updated_at"] = now
        repository.update(conn, project_id, webhook_id, values)
        if values.get("active") is False:
            repository.give_up_pending(conn, webhook_id, now)
    return {**row, **values}


def delete(conn: Connection, *, project_id: str, webhook_id: str) -> None:
    get(conn, project_id=project_id, webhook_id=webhook_id)
    repository.delete(conn, project_id, webhook_id)


def list_page(conn: Connection, *, project_id: str, limit: int, page: int) -> tuple[list[Row], int]:
    return (
        repository.page(conn, project_id, limit=limit, page=page),
        repository.count(conn, project_id),
    )


def deliveries(
    conn: Connection, *, project_id: str, webhook_id: str, limit: int, page: int, status: str | None
) -> tuple[list[Row], int]:
    get(conn, project_id=project_id, webhook_id=webhook_id)
    stored = status.lower() if status is not None else None
    rows = repository.deliveries_page(
        conn, project_id, webhook_id, limit=limit, page=page, status=stored
    )
    return rows, repository.count_deliveries(conn, project_id, webhook_id, stored)


def fan_out(conn: Connection, *, project_id: str, events: Sequence[Mapping[str, Any]]) -> int:
    """A pending delivery of each event to each active endpoint that wants its type, in the
    transaction that writes the events; how many."""
    endpoints = repository.active(conn, project_id)
    if not endpoints:
        return 0
    rows = []
    for event in events:
        for endpoint in endpoints:
            wanted = endpoint["events"]
            if ALL_EVENTS in wanted or event["type"] in wanted:
                rows.append(
                    {
                        "id": ids.new_hex_id(DELIVERY_ID_PREFIX),
                        "project_id": project_id,
                        "webhook_id": endpoint["id"],
                        "event_id": event["id"],
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": event["created_at"],
                        "log": [],
                        "created_at": event["created_at"],
                    }
                )
    repository.insert_deliveries(conn, rows)
    return len(rows)


@dataclass(frozen=True)
class Tried:
    """A delivery's try and how it went."""

    claimed: Row
    outcome: Outcome
    at: datetime


def record(conn: Connection, tried: Tried, *, worker: str, retry_scale: float) -> None:
    """Write how a try went: done on a 2xx; else due again on the retry schedule, and after
    the last try failed, the endpoint is disabled (BEHAVIOR 20.6)."""
    claimed, outcome, now = tried.claimed, tried.outcome, tried.at
    tries = claimed["attempts"] + 1
    log = [
        *claimed["log"],
        {
            "at": iso(now),
            "status_code": outcome.status,
            "error": outcome.error,
            "duration_ms": outcome.duration_ms,
        },
    ]
    first = claimed["first_attempt_at"] or now
    values: dict[str, Any] = {
        "attempts": tries,
        "log": log,
        "first_attempt_at": first,
        "lease_until": None,
        "worker": None,
    }
    if outcome.ok:
        values.update(status="succeeded", finished_at=now, next_attempt_at=None)
    elif tries >= MAX_TRIES:
        values.update(status="failed", finished_at=now, next_attempt_at=None)
    else:
        due = first + timedelta(minutes=RETRY_AFTER_MINUTES[tries - 1] * retry_scale)
        values["next_attempt_at"] = max(due, now)
    if not repository.finish_try(conn, claimed["seq"], worker, values):
        return  # taken over after the lease ran out: the new holder records its own try
    if not outcome.ok and tries >= MAX_TRIES:
        last = f"HTTP {outcome.status}" if outcome.status is not None else outcome.error
        repository.update(
            conn,
            claimed["project_id"],
            claimed["webhook_id"],
            {
                "active": False,
                "disabled_reason": (
                    f"delivery {claimed['id']} failed {tries} times over "
                    f"{_span(RETRY_AFTER_MINUTES[-1] * retry_scale)}; last: {last}"
                ),
                "updated_at": now,
            },
        )
        repository.give_up_pending(conn, claimed["webhook_id"], now)


def _span(minutes: float) -> str:
    if minutes >= 60:
        return f"{minutes / 60:g} h"
    return f"{minutes * 60:g} s"


def headers(claimed: Row, body: bytes, *, now: int) -> dict[str, str]:
    """The headers of a try: what it is, its signatures (see tally.webhooks.signing)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "Tally-Webhooks/1",
        "X-Tally-Event-Id": claimed["event_id"],
        "X-Tally-Event-Type": claimed["event_type"],
        "X-Tally-Delivery-Id": claimed["id"],
        "X-Tally-Delivery-Attempt": str(claimed["attempts"] + 1),
        "X-Tally-Signature": signing.tally_signature(claimed["secret"], body, now),
        "X-Voucherify-Signature": signing.voucherify_signature(claimed["secret"], body),
    }
