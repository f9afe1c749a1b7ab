"""What a request's changes tell the world: the events it records, kept until its transaction
is about to commit (tally.events.service writes them there, in the same transaction).

Services call the functions here as they change things. Only a request that opened a
recording (every API write, see tally.web.context) records anything: imports, the CLI and
jobs change orders without events (BEHAVIOR 17.5), so outside a recording these are no-ops.
Nothing here reads or writes the database; the payloads are built when the events are
written, from the rows as the request leaves them.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Every event type Tally emits: what a webhook endpoint may ask for.
EVENT_TYPES = (
    "customer.order.created",
    "customer.order.updated",
    "customer.order.paid",
    "customer.order.canceled",
    "customer.order.fulfilled",
    "customer.redemption.succeeded",
    "customer.redemption.failed",
    "customer.redemption.rollback.succeeded",
    "customer.redemption.rollback.failed",
    "customer.created",
    "customer.updated",
    "customer.deleted",
)

# Order statuses that have an event of their own when an order takes them (BEHAVIOR 20.2).
STATUS_EVENTS = {
    "PAID": "customer.order.paid",
    "CANCELED": "customer.order.canceled",
    "FULFILLED": "customer.order.fulfilled",
}


@dataclass(frozen=True)
class Source:
    """Who caused the events of a request (the envelope's ``event_source`` and ``group_id``)."""

    channel: str  # API, USER_PORTAL, CLIENT_API, INTERNAL
    app_id: str | None
    group_id: str | None  # the request id


def event_source(channel: str, app_id: str | None) -> dict[str, Any]:
    """EventSource as the API prints it, from an event's stored channel and key."""
    out: dict[str, Any] = {"channel": channel}
    if app_id is not None:
        out["api_key"] = {"name": "default", "app_id": app_id}
    return out


@dataclass
class Pending:
    """One event, its payload still to build. ``order`` and ``customer`` are the rows as the
    request leaves them (the dicts services keep changing until they save)."""

    type: str
    project_id: str
    created_at: datetime
    order: Mapping[str, Any] | None = None
    customer: Mapping[str, Any] | None = None
    redemption: Mapping[str, Any] | None = None  # a redemption or rollback record
    rollback: Mapping[str, Any] | None = None  # the rollback record of a rolled-back one


@dataclass
class Recorder:
    source: Source
    events: list[Pending] = field(default_factory=list)
    # The redemption (the parent of a stacked one) or rollback that caused each order's
    # events, by order id: order events carry it as their ``redemption``.
    causes: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    # Orders this request created.
    new_orders: set[str] = field(default_factory=set)
    # Customers this request created or changed, as it left them: their events show them
    # at that moment, and the events of their orders need not read them again.
    customers: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    # Orders as JSON by id, as the request left them: printed once for the response (see
    # order_printed) or for the first event that shows them, and shown by all the others.
    printed: dict[str, Any] = field(default_factory=dict)


_current: ContextVar[Recorder | None] = ContextVar("tally_events", default=None)


@contextmanager
def recording(source: Source) -> Iterator[Recorder]:
    """Record the events of the work done inside (one transaction's worth)."""
    recorder = Recorder(source)
    token = _current.set(recorder)
    try:
        yield recorder
    finally:
        _current.reset(token)


def order_saved(
    project_id: str, before: Mapping[str, Any] | None, after: Mapping[str, Any], now: datetime
) -> None:
    """An order was written: ``.created`` for a new one, ``.updated`` for a stored one, and
    the event of the status it took, if it took one that has its own (BEHAVIOR 20.2)."""
    recorder = _current.get()
    if recorder is None:
        return
    kind = "customer.order.created" if before is None else "customer.order.updated"
    if before is None:
        recorder.new_orders.add(after["id"])
    recorder.events.append(Pending(kind, project_id, now, order=after))
    status = after["status"]
    if status in STATUS_EVENTS and (before is None or before["status"] != status):
        recorder.events.append(Pending(STATUS_EVENTS[status], project_id, now, order=after))


def order_printed(order: Mapping[str, Any], printed: Mapping[str, Any]) -> None:
    """The request's response prints ``order`` as ``printed``, as it leaves it: its events
    show that JSON rather than print it again."""
    recorder = _current.get()
    if recorder is not None:
        recorder.printed[order["id"]] = printed


def customer_saved(
    project_id: str, customer: Mapping[str, Any], *, created: bool, now: datetime
) -> None:
    """A customer was created, or its fields changed (its order summary alone is not a
    change of the customer)."""
    recorder = _current.get()
    if recorder is None:
        return
    kind = "customer.created" if created else "customer.updated"
    recorder.customers[customer["id"]] = customer
    recorder.events.append(Pending(kind, project_id, now, customer=customer))


def customer_deleted(project_id: str, customer: Mapping[str, Any], now: datetime) -> None:
    recorder = _current.get()
    if recorder is None:
        return
    recorder.events.append(Pending("customer.deleted", project_id, now, customer=customer))


def redeemed(
    project_id: str,
    records: Sequence[Mapping[str, Any]],
    order: Mapping[str, Any] | None,
    cause: Mapping[str, Any] | None,
    now: datetime,
) -> None:
    """Redemption records were written: succeeded or failed, one event each; ``cause`` (the
    parent of a stacked redemption, or the only one) is what the order's events name."""
    recorder = _current.get()
    if recorder is None:
        return
    for record in records:
        kind = (
            "customer.redemption.succeeded"
            if record["result"] == "SUCCESS"
            else "customer.redemption.failed"
        )
        recorder.events.append(Pending(kind, project_id, now, order=order, redemption=record))
    if order is not None and cause is not None:
        recorder.causes[order["id"]] = cause


def rolled_back(
    project_id: str,
    pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
    order: Mapping[str, Any] | None,
    cause: Mapping[str, Any] | None,
    now: datetime,
) -> None:
    """Rollbacks were written: (redemption, its rollback record) pairs; a refused rollback
    is ``customer.redemption.rollback.failed``."""
    recorder = _current.get()
    if recorder is None:
        return
    for redemption, rollback in pairs:
        kind = (
            "customer.redemption.rollback.succeeded"
            if rollback["result"] == "SUCCESS"
            else "customer.redemption.rollback.failed"
        )
        recorder.events.append(
            Pending(kind, project_id, now, order=order, redemption=redemption, rollback=rollback)
        )
    if order is not None and cause is not None:
        recorder.causes[order["id"]] = cause
