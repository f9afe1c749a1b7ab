"""Webhook endpoints (a Tally extension, BEHAVIOR 20.7) and the deliveries of events to them.

Keyword-only functions over one connection; the caller owns the transaction.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from tally import ids
from tally.clock import iso
from tally.db.prepared import Row
from tally.errors import invalid_payload, not_found
from tally.events import repository as events_repository
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


def check_url(url: str, *, allow_private: bool) -> str:
    """``url`` if Tally may send to it: its form, and every address its host resolves to
    (BEHAVIOR 20.7, tally.webhooks.addresses). A DNS lookup: callers run it before their
    transaction, never while holding the database."""
    try:
        addresses.resolve(addresses.parse(url), allow_private=allow_private)
    except addresses.Refused as exc:
        raise invalid_payload(f"Webhook url refused: {exc}") from None
    return url


def _well_formed(url: str) -> str:
    try:
        addresses.parse(url)
    except addresses.Refused as exc:
        raise invalid_payload(f"Webhook url refused: {exc}") from None
    return url


def create(
    conn: Connection,
    *,
    project_id: str,
    url: str,
    events: list[str],
    now: datetime,
) -> dict[str, Any]:
    """A new endpoint for ``url`` (checked with :func:`check_url` already)."""
    # It gets the events committed from now on, not the project's history.
    cursor_txid, cursor_seq = events_repository.last_position(conn, project_id)
    row = {
        "id": ids.new_id(WEBHOOK_ID_PREFIX),
        "project_id": project_id,
        "url": _well_formed(url),
        "events": _checked_events(events),
        "secret": signing.new_secret(),
        "active": True,
        "disabled_reason": None,
        "cursor_txid": cursor_txid,
        "cursor_seq": cursor_seq,
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
    now: datetime,
) -> Row:
    """Change an endpoint; a new ``url`` was checked with :func:`check_url` already."""
    row = get(conn, project_id=project_id, webhook_id=webhook_id)
    values: dict[str, Any] = {}
    if url is not None:
        values["url"] = _well_formed(url)
    if events is not None:
        values["events"] = _checked_events(events)
    if active is not None and active != row["active"]:
        values["active"] = active
        values["disabled_reason"] = None if active else "disabled by the API"
        if active:
            # Back on: the events from now on (GET /v1/events has those it missed).
            values["cursor_txid"], values["cursor_seq"] = events_repository.last_position(
                conn, project_id
            )
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


def wants(endpoint: Row, event_type: str) -> bool:
    wanted = endpoint["events"]
    return ALL_EVENTS in wanted or event_type in wanted


def delivery_id(webhook_id: str, event_id: str, event_created_at: datetime) -> str:
    """The id of the delivery of an event to an endpoint: made from the two, since nothing
    is written before the first try, and a try redone after a deliverer died must carry
    the same id. It starts with the event's time in milliseconds, so deliveries written
    together sort together in the unique index (as tally.ids.new_ordered_hex_id does); the
    rest is long enough that two deliveries never share one (a clash would stop the
    endpoint for good: every record of its batch would fail)."""
    digest = hashlib.blake2b(f"{webhook_id}/{event_id}".encode(), digest_size=10).hexdigest()
    ms = int(event_created_at.timestamp() * 1000)
    return f"{DELIVERY_ID_PREFIX}_{ms:011x}{digest}"


def first_try(endpoint: Row, event: Row) -> dict[str, Any]:
    """A delivery before its first try, shaped like a claimed one (see repository.claim)."""
    return {
        "id": delivery_id(endpoint["id"], event["id"], event["created_at"]),
        "project_id": endpoint["project_id"],
        "webhook_id": endpoint["id"],
        "event_id": event["id"],
        "attempts": 0,
        "log": [],
        "first_attempt_at": None,
        "url": endpoint["url"],
        "secret": endpoint["secret"],
        "event_type": event["type"],
        "entity_id": event["entity_id"],
        "sequence": event["sequence"],
        "group_id": event["group_id"],
        "channel": event["channel"],
        "app_id": event["app_id"],
        "data": event["data"],
        "event_created_at": event["created_at"],
    }


@dataclass(frozen=True)
class Tried:
    """A delivery's try and how it went."""

    claimed: Row
    outcome: Outcome
    at: datetime


def _after(tried: Tried, retry_scale: float) -> dict[str, Any]:
    """The delivery's TRY_COLUMNS after ``tried``: done on a 2xx; else due again on the
    retry schedule, or failed for good after the last try (BEHAVIOR 20.6)."""
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
        "status": "pending",
        "attempts": tries,
        "log": log,
        "first_attempt_at": first,
        "next_attempt_at": None,
        "lease_until": None,
        "worker": None,
        "finished_at": None,
    }
    if outcome.ok:
        values.update(status="succeeded", finished_at=now)
    elif tries >= MAX_TRIES:
        values.update(status="failed", finished_at=now)
    else:
        due = first + timedelta(minutes=RETRY_AFTER_MINUTES[tries - 1] * retry_scale)
        values["next_attempt_at"] = max(due, now)
    return values


def record(conn: Connection, tried: Tried, *, worker: str, retry_scale: float) -> None:
    """Write how a retry went (a delivery claimed from the table); after the last try
    failed, the endpoint is disabled (BEHAVIOR 20.6)."""
    values = _after(tried, retry_scale)
    if not repository.finish_try(conn, tried.claimed["seq"], worker, values):
        return  # taken over after the lease ran out: the new holder records its own try
    if values["status"] == "failed":
        _disable(conn, tried, retry_scale)


def record_batch(
    conn: Connection,
    endpoint: Row,
    *,
    cursor: tuple[int, int],
    to: tuple[int, int],
    tried: list[Tried],
    worker: str,
    lease_until: datetime,
    retry_scale: float,
) -> bool:
    """Write the first tries of an endpoint's events after ``cursor`` up to ``to`` (every
    one it wants is in ``tried``), and move its cursor there: one transaction, one row a
    delivery. False (nothing written) when ``worker`` no longer holds the endpoint at
    ``cursor``: whoever does sends those events again (at least once)."""
    project_id = endpoint["project_id"]
    # The endpoint's row first: on PostgreSQL its lock orders this against a delete, which
    # then also deletes these deliveries (repository.delete).
    if not repository.advance(
        conn,
        endpoint["id"],
        project_id,
        cursor=cursor,
        to=to,
        worker=worker,
        until=lease_until,
    ):
        return False
    rows = []
    for one in tried:
        claimed = one.claimed
        rows.append(
            {
                "id": claimed["id"],
                "project_id": project_id,
                "webhook_id": claimed["webhook_id"],
                "event_id": claimed["event_id"],
                "created_at": one.at,
                **_after(one, retry_scale),
            }
        )
    repository.insert_deliveries(conn, rows)
    for one, row in zip(tried, rows, strict=True):
        if row["status"] == "failed":  # only when a single try is all there is
            _disable(conn, one, retry_scale)
            break
    return True


def _disable(conn: Connection, tried: Tried, retry_scale: float) -> None:
    claimed, outcome, now = tried.claimed, tried.outcome, tried.at
    tries = claimed["attempts"] + 1
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
