"""Events: written in the transaction of the change that caused them (a transactional
outbox), read back by GET /v1/events, the customer activity and the webhook deliverer.

Keyword-only functions over one connection; the caller owns the transaction.
"""

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from tally import ids
from tally.common import repository as common
from tally.customers.tables import customers
from tally.db.prepared import Row
from tally.errors import TallyError, invalid_query, not_found
from tally.events import payloads, repository
from tally.events.recorder import Recorder
from tally.events.tables import EVENT_ID_PREFIX, events


def write(conn: Connection, recorder: Recorder) -> None:
    """Write the events ``recorder`` holds, numbered per order, in the caller's transaction,
    as its last statements (the webhook deliverer makes deliveries of them after commit)."""
    pending = recorder.events
    if not pending:
        return
    project_id = pending[0].project_id
    subjects = [payloads.subject(event) for event in pending]
    # Only events of changes to an order take a number in its sequence: a refused
    # redemption or rollback names its order but leaves it as it was.
    sequences = _sequences(
        conn,
        project_id,
        [
            order_id if not event.type.endswith(".failed") else None
            for event, (_, order_id, _) in zip(pending, subjects, strict=True)
        ],
        recorder.new_orders,
    )
    wanted: set[str] = set()
    for event in pending:
        wanted |= payloads.customer_ids(event)
    people = dict(recorder.customers)
    unread = wanted - people.keys()
    if unread:
        people.update(common.by_ids(conn, customers, project_id, unread))
    # Each order's JSON serialised once, however many events show it.
    printed = {key: orjson.Fragment(orjson.dumps(json)) for key, json in recorder.printed.items()}
    rows: list[dict[str, Any]] = []
    # The data of each order's first customer.order.* event here, and that event's id:
    # the others show the same data (the order as the request left it, its customers, its
    # redemption), stored once, in that first event.
    shown: dict[str, tuple[str, dict[str, Any]]] = {}
    for event, (entity_id, order_id, customer_id), sequence in zip(
        pending, subjects, sequences, strict=True
    ):
        event_id = ids.new_ordered_hex_id(EVENT_ID_PREFIX)
        made = payloads.data(event, people, recorder.causes, printed)
        data: dict[str, Any] | None = made
        same_as: str | None = None
        if order_id is not None and payloads.shows_order(event):
            first_id, first_data = shown.setdefault(order_id, (event_id, made))
            # Stored once only when equal: the order JSON is one object (compared as
            # itself), the customers and the redemption are compared by value.
            if first_id != event_id and first_data == made:
                same_as, data = first_id, None
        rows.append(
            {
                "id": event_id,
                "project_id": project_id,
                "type": event.type,
                "entity_id": entity_id,
                "order_id": order_id,
                "customer_id": customer_id,
                "sequence": sequence,
                "group_id": recorder.source.group_id,
                "channel": recorder.source.channel,
                "app_id": recorder.source.app_id,
                "data": data,
                "same_data_as": same_as,
                "created_at": event.created_at,
            }
        )
    repository.insert_many(conn, rows)


def _sequences(
    conn: Connection, project_id: str, order_ids: list[str | None], new: set[str]
) -> list[int | None]:
    """Each event's number among its order's events (None: not numbered); ``new``: orders
    created by this request, whose events start at 1 without a look."""
    next_of = {
        order_id: 1 if order_id in new else repository.last_sequence(conn, project_id, order_id) + 1
        for order_id in dict.fromkeys(o for o in order_ids if o is not None)
    }
    out: list[int | None] = []
    for order_id in order_ids:
        if order_id is None:
            out.append(None)
            continue
        out.append(next_of[order_id])
        next_of[order_id] += 1
    return out


def _bad_cursor(name: str, value: str) -> TallyError:
    return invalid_query(f"{name}: no event {value} in this project")


def list_page(
    conn: Connection,
    *,
    project_id: str,
    limit: int,
    starting_after: str | None,
    type_: str | None,
    order_id: str | None,
) -> tuple[list[Row], bool]:
    """GET /v1/events: oldest first, after the event ``starting_after``; whether more
    follow."""
    after = None
    if starting_after is not None:
        after = repository.position_of(conn, project_id, starting_after)
        if after is None:
            raise _bad_cursor("starting_after", starting_after)
    rows = repository.page(
        conn, project_id, limit=limit + 1, after=after, type_=type_, order_id=order_id
    )
    return rows[:limit], len(rows) > limit


def customer_activity(
    conn: Connection,
    *,
    project_id: str,
    customer_id: str,
    limit: int,
    descending: bool,
    starting_after_id: str | None,
    type_: str | None,
    start: datetime | None,
    end: datetime | None,
) -> tuple[list[Row], bool]:
    """A customer's events (list-customer-activity)."""
    after = None
    if starting_after_id is not None:
        after = repository.position_of(conn, project_id, starting_after_id)
        if after is None:
            raise _bad_cursor("starting_after_id", starting_after_id)
    rows = repository.page(
        conn,
        project_id,
        limit=limit + 1,
        after=after,
        descending=descending,
        type_=type_,
        customer_id=customer_id,
        start=start,
        end=end,
    )
    return rows[:limit], len(rows) > limit


def get(conn: Connection, *, project_id: str, event_id: str) -> Row:
    found = common.by_ids(conn, events, project_id, {event_id})
    if event_id not in found:
        raise not_found("event", event_id)
    return repository.with_data(conn, [found[event_id]])[0]
