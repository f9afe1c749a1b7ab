"""Customers: upserted wherever a customer object appears, and their order summary."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally import ids
from tally.common.filters import query_datetime
from tally.core import order_history
from tally.core.order_history import OrderState
from tally.customers import repository
from tally.customers.schemas import CustomerFields, CustomerRef, CustomerUpdate
from tally.customers.tables import CUSTOMER_ID_PREFIX, customers
from tally.db.prepared import Row
from tally.errors import duplicate, not_found
from tally.events import recorder
from tally.orders import repository as orders_repository
from tally.orders.tables import orders
from tally.projects import repository as counters

_FIELDS = ("name", "description", "email", "phone", "birthday", "birthdate", "address", "metadata")


def field_values(body: CustomerFields) -> dict[str, Any]:
    """The fields the client sent, in storage form; absent fields are left out."""
    values: dict[str, Any] = {}
    for name in _FIELDS:
        if name not in body.model_fields_set:
            continue
        value = getattr(body, name)
        if name in ("birthday", "birthdate") and value is not None:
            value = value.isoformat()
        elif name == "address" and value is not None:
            value = value.model_dump(exclude_none=True)
        elif name == "metadata" and value is None:
            value = {}
        values[name] = value
    return values


def new_row(
    project_id: str,
    ref: CustomerRef,
    now: datetime,
    *,
    counted_order: tuple[int, datetime] | None = None,
) -> dict[str, Any]:
    """The stored row of a customer ``ref`` creates (see :func:`upsert_for_order`); the
    import's batched steps make rows here too."""
    row: dict[str, Any] = {
        "id": ids.new_ordered_id(CUSTOMER_ID_PREFIX),
        "project_id": project_id,
        "source_id": ref.source_id,
        **{name: None for name in _FIELDS},
        "metadata": {},
        "orders_total_amount": 0,
        "orders_total_count": 0,
        "orders_last_amount": 0,
        "orders_last_date": None,
        **{name: 0 for name in repository.REDEMPTION_COUNTERS},
        "created_at": now,
        "updated_at": None,
        **field_values(ref),
    }
    if counted_order is not None:
        amount, ordered_at = counted_order
        row.update(
            orders_total_amount=amount,
            orders_total_count=1,
            orders_last_amount=amount,
            orders_last_date=ordered_at,
        )
    return row


def upsert(
    conn: Connection, *, project_id: str, ref: CustomerRef, now: datetime, rename: bool = False
) -> Mapping[Any, Any]:
    """Match by id (an unknown id is 404), else by source_id; create when nothing matches;
    the fields sent overwrite the stored ones (BEHAVIOR 14.1). ``rename`` (POST
    /v1/customers only, 14.2): a source_id sent with an id becomes the customer's; inside
    other objects it is ignored when an id is given (14.1)."""
    return upsert_for_order(conn, project_id=project_id, ref=ref, now=now, rename=rename)[0]


def upsert_for_order(
    conn: Connection,
    *,
    project_id: str,
    ref: CustomerRef,
    now: datetime,
    counted_order: tuple[int, datetime] | None = None,
    rename: bool = False,
) -> tuple[Mapping[Any, Any], bool]:
    """:func:`upsert`, and whether the customer was created. ``counted_order`` (total
    amount, created_at): an order that counts towards summary.orders and names this
    customer; a customer created here starts with it in its summary, so the caller need not
    recompute one from the orders table."""
    existing: Row | None = None
    if ref.id is not None:
        existing = repository.get_by_id(conn, project_id, ref.id)
        if existing is None:
            raise not_found("customer", ref.id)
    elif ref.source_id is not None:
        existing = repository.get_by_source_id(conn, project_id, ref.source_id)
    if existing is None:
        row = new_row(project_id, ref, now, counted_order=counted_order)
        repository.insert(conn, row)
        counters.bump(conn, project_id, "customers", 1)
        recorder.customer_saved(project_id, row, created=True, now=now)
        # What was inserted is what a read would return: no second round trip.
        return row, True
    values = field_values(ref)
    customer_id = existing["id"]
    new_source = ref.source_id if rename and ref.id is not None else None
    if new_source is not None and new_source != existing["source_id"]:
        if repository.get_by_source_id(conn, project_id, new_source) is not None:
            raise duplicate(
                "customer",
                f"A customer with source_id {new_source} already exists",
                resource_id=new_source,
            )
        values["source_id"] = new_source
    if not values:
        return existing, False
    values["updated_at"] = now
    repository.update(conn, project_id, customer_id, values)
    saved = {**existing, **values}
    recorder.customer_saved(project_id, saved, created=False, now=now)
    return saved, False


def link_existing(conn: Connection, *, project_id: str, customer_id: str) -> Row:
    row = repository.get_by_id(conn, project_id, customer_id)
    if row is None:
        raise not_found("customer", customer_id)
    return row


def get(conn: Connection, *, project_id: str, ref: str) -> Row:
    row = repository.get(conn, project_id, ref)
    if row is None:
        raise not_found("customer", ref)
    return row


def update(
    conn: Connection, *, project_id: str, ref: str, body: CustomerUpdate, now: datetime
) -> Row:
    row = get(conn, project_id=project_id, ref=ref)
    values = field_values(body)
    if values:
        values["updated_at"] = now
        repository.update(conn, project_id, row["id"], values)
        recorder.customer_saved(project_id, {**row, **values}, created=False, now=now)
    return get(conn, project_id=project_id, ref=row["id"])


def delete(conn: Connection, *, project_id: str, ref: str, now: datetime) -> None:
    row = get(conn, project_id=project_id, ref=ref)
    repository.lock_to_delete(conn, project_id, row["id"])
    # Orders are the shop's records and stay; they lose the link to the deleted person.
    for column in (orders.c.customer_id, orders.c.referrer_id):
        conn.execute(
            orders.update()
            .where(orders.c.project_id == project_id, column == row["id"])
            .values({column.name: None})
        )
    repository.delete_days(conn, project_id, row["id"])
    repository.delete(conn, project_id, row["id"])
    counters.bump(conn, project_id, "customers", -1)
    recorder.customer_deleted(project_id, row, now)


def _date_filter(column: sa.ColumnElement[Any], text: str, name: str, before: bool) -> Any:
    when = query_datetime(text, name)
    return column < when if before else column > when


def list_page(
    conn: Connection,
    *,
    project_id: str,
    limit: int,
    page: int,
    order: str,
    email: str | None = None,
    city: str | None = None,
    name: str | None = None,
    created_before: str | None = None,
    created_after: str | None = None,
    updated_before: str | None = None,
    updated_after: str | None = None,
) -> tuple[list[Row], int]:
    filters: list[Any] = []
    if email is not None:
        filters.append(customers.c.email == email)
    if name is not None:
        filters.append(customers.c.name == name)
    if city is not None:
        filters.append(customers.c.address["city"].as_string() == city)
    for text, column, label, before in (
        (created_before, customers.c.created_at, "created_at[before]", True),
        (created_after, customers.c.created_at, "created_at[after]", False),
        (updated_before, customers.c.updated_at, "updated_at[before]", True),
        (updated_after, customers.c.updated_at, "updated_at[after]", False),
    ):
        if text is not None:
            filters.append(_date_filter(column, text, label, before))
    rows = repository.page(conn, project_id, order=order, limit=limit, page=page, filters=filters)
    if filters:
        total = repository.count(conn, project_id, filters)
    else:
        total = counters.count(conn, project_id, "customers")
    return rows, total


def record_order(
    conn: Connection,
    *,
    project_id: str,
    old: OrderState | None,
    new: OrderState | None,
    summarised: str | None = None,
) -> None:
    """An order write seen by its customers' summary.orders and purchase-history days, in
    the caller's transaction (BEHAVIOR 14.4): ``old`` and ``new`` are the order before and
    after it (None: none). ``summarised``: a customer created by this write with the order
    already in its summary; only its day bucket is left to add."""
    found = order_history.changes(old, new)
    if not found:
        return
    by_customer = order_history.per_customer(found)
    repository.lock(conn, project_id, sorted(by_customer))
    repository.add_to_days(conn, project_id, found)
    for customer_id, (count, amount) in sorted(by_customer.items()):
        if customer_id != summarised:
            repository.add_to_summary(conn, project_id, customer_id, count, amount)


def redemption_counter(record: Mapping[str, Any]) -> int | None:
    """Which of summary.redemptions' counters (an index into
    repository.REDEMPTION_COUNTERS) a redemption or rollback record moves, or None
    (BEHAVIOR 14.5). One per redeemable redeemed or given back: a lone redemption, each
    child of a stacked one, each child rollback; never the parent of a stack (a container
    of its children, not a redemption of anything: Voucherify's customer events are the
    children's too) nor a stack's parent rollback. A refused request records one failed
    redemption and a refused rollback one failed rollback: each counts once.
    total_redeemed = total_succeeded + total_failed; total_rolled_back =
    total_rollback_succeeded + total_rollback_failed (tally.customers.presenter)."""
    succeeded = record["result"] == "SUCCESS"
    if succeeded and record["related_object_type"] == "redemption":
        return None
    first = 0 if record["object"] == "redemption" else 2
    return first if succeeded else first + 1


def count_redemptions(
    conn: Connection, *, project_id: str, records: Sequence[Mapping[str, Any]]
) -> None:
    """Redemption or rollback records just written, counted into their customers'
    summary.redemptions in the caller's transaction (records without a customer count for
    no one)."""
    deltas: dict[str, list[int]] = {}
    for record in records:
        counter = redemption_counter(record)
        if counter is None or record["customer_id"] is None:
            continue
        deltas.setdefault(record["customer_id"], [0, 0, 0, 0])[counter] += 1
    if deltas:
        repository.add_to_redemptions(
            conn,
            project_id,
            [(customer_id, (a, b, c, d)) for customer_id, (a, b, c, d) in sorted(deltas.items())],
        )


def purchase_history(
    conn: Connection,
    *,
    project_id: str,
    customer: Row,
    after: datetime | None,
    before: datetime | None,
    leave_out: OrderState | None,
) -> tuple[int, int]:
    """How many of ``customer``'s purchases were created after ``after`` and before
    ``before`` (either may be open), and their total amount, ``leave_out`` (the stored order
    under validation) not counted. Reads whole days from day buckets and the cut days order
    by order: never a walk of all the customer's orders (tally.core.order_history)."""
    customer_id = customer["id"]
    span = order_history.span_of(after, before)

    if span.start is None and span.end is None:
        seen = (customer["orders_total_count"], customer["orders_total_amount"])
    else:
        plan = order_history.reading(span)
        seen = (0, 0)
        if plan.days:
            seen = repository.sum_days(conn, project_id, customer_id, plan.first_day, plan.last_day)
        for edge in plan.edges:
            assert edge.start is not None
            found = orders_repository.counted_between(
                conn, project_id, customer_id, edge.start, edge.end
            )
            seen = (seen[0] + found[0], seen[1] + found[1])
    if (
        leave_out is not None
        and leave_out.counted
        and leave_out.customer_id == customer_id
        and order_history.within(span, leave_out.created_at)
    ):
        seen = (seen[0] - 1, seen[1] - leave_out.total_amount)
    return seen


def average(total: int, count: int) -> int:
    """total / count rounded half up, in integers (no float rounding on large sums)."""
    return (2 * total + count) // (2 * count) if count > 0 else 0
