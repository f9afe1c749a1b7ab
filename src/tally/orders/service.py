"""Orders: create (with upsert), get, update, list (BEHAVIOR.md sections 4-7, 14, 15).

Keyword-only functions over one connection; the caller owns the transaction.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tally import ids
from tally.async_actions import service as async_actions
from tally.core.discounts import Cart
from tally.core.order_amounts import (
    AmountError,
    Line,
    LineKey,
    cap_order_discount,
    carry_discounts,
    match_lines,
    order_totals,
    price_line,
)
from tally.core.order_history import OrderState
from tally.customers import service as customers
from tally.db.prepared import Row
from tally.errors import duplicate, invalid_payload, not_found
from tally.events import recorder
from tally.jobs import service as jobs
from tally.jobs.service import hold_queue
from tally.orders import repository
from tally.orders.catalogue import Catalogue, ResolvedLine
from tally.orders.schemas import OrderCreate, OrderFields, OrderItemIn
from tally.orders.tables import COUNTED_STATUSES, ORDER_ID_PREFIX
from tally.projects import repository as counters

# The kind of job an import is (tally.orders.tasks runs it).
IMPORT_KIND = "orders.import"


@dataclass(frozen=True)
class Lines:
    stored: list[dict[str, Any]]
    math: list[Line]


def get(conn: Connection, *, project_id: str, ref: str) -> Row:
    row = repository.get(conn, project_id, ref)
    if row is None:
        raise not_found("order", ref)
    return row


def list_page(
    conn: Connection, *, project_id: str, limit: int, page: int, order: str
) -> tuple[list[Row], int]:
    rows = repository.page(conn, project_id, order=order, limit=limit, page=page)
    return rows, counters.count(conn, project_id, "orders")


@dataclass
class Draft:
    """An order as a request leaves it, before the order row is written: the stored order
    (``current``; None for a new order) with the payload's fields over it."""

    row: dict[str, Any]
    lines: list[Line]
    current: Mapping[Any, Any] | None


def create(
    conn: Connection, *, project_id: str, body: OrderCreate, now: datetime
) -> Mapping[Any, Any]:
    """Create, or upsert when ``id`` or ``source_id`` names an existing order (BEHAVIOR 7.1)."""
    return save(
        conn,
        project_id=project_id,
        draft=draft(conn, project_id=project_id, body=body, now=now, write=True),
        body=body,
        now=now,
    )


def schedule_import(
    conn: Connection,
    *,
    project_id: str,
    bodies: list[OrderCreate],
    request_id: str | None,
    now: datetime,
    sent: list[Any] | None = None,
) -> str:
    """An import of ``bodies`` (checked whole already) queued behind the project's earlier
    imports; the id of the async action that reports on it (BEHAVIOR 17). ``sent``: the
    JSON ``bodies`` were validated from, queued as it is instead of ``bodies`` dumped again
    (the job validates each order again, to the same bodies)."""
    queue_key = f"{IMPORT_KIND}:{project_id}"
    # PostgreSQL: a job's place in line is its row's sequence number, given at insert; two
    # imports of one project enqueue one after the other, so the earlier-numbered one also
    # commits first and no later import can start before it (SQLite writers take turns).
    hold_queue(conn, project_id, queue_key)
    action_id = async_actions.create(
        conn, project_id=project_id, type_="ORDERS.IMPORT", request_id=request_id, now=now
    )
    jobs.enqueue(
        conn,
        project_id=project_id,
        kind=IMPORT_KIND,
        payload={
            "orders": sent
            if sent is not None
            else [b.model_dump(mode="json", exclude_unset=True) for b in bodies]
        },
        now=now,
        queue_key=queue_key,
        subject_id=action_id,
    )
    return action_id


def update(
    conn: Connection, *, project_id: str, ref: str, body: OrderFields, now: datetime
) -> Mapping[Any, Any]:
    current = get(conn, project_id=project_id, ref=ref)
    if body.source_id is not None and body.source_id != current["source_id"]:
        other = repository.get_by_source_id(conn, project_id, body.source_id)
        if other is not None:
            raise duplicate(
                "order",
                f"An order with source_id {body.source_id} already exists",
                resource_id=body.source_id,
            )
    changed = draft_over(
        conn, project_id=project_id, current=current, body=body, now=now, write=True
    )
    return save(conn, project_id=project_id, draft=changed, body=body, now=now)


def find(conn: Connection, *, project_id: str, body: OrderCreate, lock: bool = False) -> Row | None:
    """The stored order a payload names: by ``id`` (unknown is 404), else by ``source_id``
    (unknown means a new order). ``lock``: on PostgreSQL, lock its row until commit."""
    by_id = by_source = None
    if body.id is not None:
        by_id = repository.get_by_id(conn, project_id, body.id)
        if by_id is None:
            raise not_found("order", body.id)
    if body.source_id is not None:
        by_source = repository.get_by_source_id(conn, project_id, body.source_id)
    if by_id is not None and by_source is not None and by_id["id"] != by_source["id"]:
        raise duplicate(
            "order",
            f"Order {body.id} and the order with source_id {body.source_id} are different orders",
            resource_id=body.source_id,
        )
    found = by_id or by_source
    if found is not None and lock and conn.dialect.name != "sqlite":
        found = repository.lock(conn, project_id, found["id"])
    return found


def draft(
    conn: Connection,
    *,
    project_id: str,
    body: OrderCreate | None,
    now: datetime,
    write: bool,
    lock: bool = False,
    keep_unknown: bool = False,
) -> Draft:
    """The order a payload makes: the stored order it names with its fields over it, else a
    new order. ``write=False`` writes nothing, not even the catalogue changes of
    ``override`` lines, and leaves a new order without id or date (BEHAVIOR 8.3, 8.6).
    ``keep_unknown`` (validations): an item's unknown product_id or sku_id stays on its
    line instead of being 404 (BEHAVIOR 15.3)."""
    body = body or OrderCreate()
    current = find(conn, project_id=project_id, body=body, lock=lock)
    if current is not None:
        return draft_over(
            conn,
            project_id=project_id,
            current=current,
            body=body,
            now=now,
            write=write,
            keep_unknown=keep_unknown,
        )
    lines = _build_lines(
        conn, project_id, body.items or [], now, write=write, keep_unknown=keep_unknown
    )
    return Draft(
        row=new_row(project_id, body, lines, now, write=write), lines=lines.math, current=None
    )


def new_row(
    project_id: str, body: OrderCreate, lines: Lines, now: datetime, *, write: bool = True
) -> dict[str, Any]:
    """The stored row of a new order made of ``body`` and its built ``lines``, without its
    customer and referrer (the import's batched steps make rows here too)."""
    try:
        totals = order_totals(amount=body.amount, lines=lines.math)
    except AmountError as exc:
        raise invalid_payload(str(exc)) from None
    return {
        "id": ids.new_ordered_id(ORDER_ID_PREFIX) if write else None,
        "project_id": project_id,
        "source_id": body.source_id,
        "status": body.status or "CREATED",
        "amount": totals.amount,
        "initial_amount": totals.initial_amount,
        "discount_amount": totals.discount_amount,
        "items_discount_amount": totals.items_discount_amount,
        "total_amount": totals.total_amount,
        "items": lines.stored,
        "metadata": body.metadata or {},
        "redemptions": {},
        "customer_id": None,
        "referrer_id": None,
        # Historical orders keep their own date (BEHAVIOR 7.1).
        "created_at": (body.created_at or now) if write else None,
        "updated_at": None,
    }


def draft_over(
    conn: Connection,
    *,
    project_id: str,
    current: Mapping[Any, Any],
    body: OrderFields,
    now: datetime,
    write: bool,
    keep_unknown: bool = False,
) -> Draft:
    """``current`` with the fields ``body`` sends over it (BEHAVIOR 7.4)."""
    changes = _changes(
        conn,
        project_id=project_id,
        current=current,
        body=body,
        now=now,
        write=write,
        keep_unknown=keep_unknown,
    )
    row = {**current, **changes}
    return Draft(row=row, lines=[_math_of(line) for line in row["items"]], current=current)


def writable(
    conn: Connection, *, project_id: str, body: OrderCreate | None, preview: Draft, now: datetime
) -> Draft:
    """The draft to save after ``preview`` (a ``write=False`` draft) was checked: made
    again with writes when the payload changes the catalogue, else ``preview`` with the id
    and date a new order gets."""
    items = (body.items if body is not None else None) or []
    if any(
        (item.product is not None and item.product.override)
        or (item.sku is not None and item.sku.override)
        for item in items
    ):
        return draft(conn, project_id=project_id, body=body, now=now, write=True)
    if preview.current is not None:
        return preview
    created_at = (body.created_at if body is not None else None) or now
    row = {**preview.row, "id": ids.new_ordered_id(ORDER_ID_PREFIX), "created_at": created_at}
    return Draft(row=row, lines=preview.lines, current=None)


def save(
    conn: Connection,
    *,
    project_id: str,
    draft: Draft,
    body: OrderFields,
    now: datetime,
    customer_id: str | None = None,
) -> dict[str, Any]:
    """Write ``draft``: insert a new order, or the changed fields of a stored one, with the
    customer and referrer the payload names, and the customers' summaries that change.
    ``customer_id``: the customer an order without one gets (a redeeming customer,
    BEHAVIOR 8.5)."""
    row = draft.row
    current = draft.current
    counted = row["status"] in COUNTED_STATUSES
    people = _people(
        conn,
        project_id,
        body,
        now,
        current=current,
        counted_order=(row["total_amount"], row["created_at"])
        if counted and current is None
        else None,
    )
    row["customer_id"] = people[0] or customer_id
    row["referrer_id"] = people[1]
    if current is None:
        repository.insert(conn, row)
        counters.bump(conn, project_id, "orders", 1)
        customers.record_order(
            conn,
            project_id=project_id,
            old=None,
            new=_state(row),
            summarised=row["customer_id"] if people[2] else None,
        )
        recorder.order_saved(project_id, None, row, now)
        # What was inserted is what a read would return: no second round trip.
        return row
    # The upsert always marks the order as touched, as Voucherify does for a re-sent order.
    row["updated_at"] = now
    values = {k: v for k, v in row.items() if k not in _FIXED and current[k] != v}
    repository.update(conn, project_id, current["id"], values)
    customers.record_order(conn, project_id=project_id, old=_state(current), new=_state(row))
    recorder.order_saved(project_id, current, row, now)
    return row


def _state(row: Mapping[str, Any]) -> OrderState:
    return OrderState(row["customer_id"], row["status"], row["total_amount"], row["created_at"])


# Columns a save never rewrites.
_FIXED = frozenset({"id", "project_id", "created_at"})


def _changes(
    conn: Connection,
    *,
    project_id: str,
    current: Mapping[Any, Any],
    body: OrderFields,
    now: datetime,
    write: bool = True,
    keep_unknown: bool = False,
) -> dict[str, Any]:
    """The stored fields ``body`` changes on ``current`` (BEHAVIOR 7.4, 8.4): lines that
    continue keep their id and the discounts already granted on them. ``write=False``: the
    catalogue is only read, never changed by ``override`` lines."""
    sent = body.model_fields_set
    values: dict[str, Any] = {}
    if "source_id" in sent and body.source_id is not None:
        values["source_id"] = body.source_id
    if "status" in sent and body.status is not None:
        values["status"] = body.status
    if "metadata" in sent:
        values["metadata"] = body.metadata or {}

    items_sent = "items" in sent and body.items is not None
    amount_sent = "amount" in sent and body.amount is not None
    if items_sent or amount_sent:
        old_stored: list[dict[str, Any]] = current["items"]
        if items_sent:
            built = _build_lines(
                conn, project_id, body.items or [], now, write=write, keep_unknown=keep_unknown
            )
            old_keys = [_key(s) for s in old_stored]
            new_keys = [_key(s) for s in built.stored]
            math = carry_discounts(
                [(k, _math_of(s)) for k, s in zip(old_keys, old_stored, strict=True)],
                list(zip(new_keys, built.math, strict=True)),
            )
            matches = match_lines(old_keys, new_keys)
            stored = [
                _with_discounts(s, m, None if i is None else old_stored[i]["id"])
                for s, m, i in zip(built.stored, math, matches, strict=True)
            ]
        else:
            stored = old_stored
            math = [_math_of(s) for s in old_stored]
        amount = body.amount if amount_sent else (None if items_sent else current["amount"])
        try:
            totals = order_totals(amount=amount, lines=math)
        except AmountError as exc:
            raise invalid_payload(str(exc)) from None
        discount = cap_order_discount(
            amount=totals.amount,
            items_discount_amount=totals.items_discount_amount,
            discount_amount=current["discount_amount"],
        )
        totals = order_totals(amount=totals.amount, lines=math, discount_amount=discount)
        values.update(
            {
                "items": stored,
                "amount": totals.amount,
                "initial_amount": totals.initial_amount,
                "discount_amount": totals.discount_amount,
                "items_discount_amount": totals.items_discount_amount,
                "total_amount": totals.total_amount,
            }
        )
    return values


def _people(
    conn: Connection,
    project_id: str,
    body: OrderFields,
    now: datetime,
    *,
    current: Mapping[Any, Any] | None,
    counted_order: tuple[int, datetime] | None = None,
) -> tuple[str | None, str | None, bool]:
    """The order's customer and referrer links after this request (BEHAVIOR 14.1), and
    whether the customer was created here with ``counted_order`` already in its summary."""
    customer_id = current["customer_id"] if current else None
    referrer_id = current["referrer_id"] if current else None
    summarised = False
    if body.customer is not None:
        if current is not None and body.customer.id is None and body.customer.source_id is None:
            # A customer named by nothing is a new anonymous one, made only with a new order
            # (BEHAVIOR 14.1): on a stored order it would replace the customer by a stranger.
            raise invalid_payload(
                "Property .customer must name the customer (id or source_id): the order exists"
            )
        customer, summarised = customers.upsert_for_order(
            conn, project_id=project_id, ref=body.customer, now=now, counted_order=counted_order
        )
        customer_id = customer["id"]
    if body.referrer is not None:
        referrer_id = customers.upsert(conn, project_id=project_id, ref=body.referrer, now=now)[
            "id"
        ]
    elif body.referrer_id is not None:
        referrer_id = customers.link_existing(
            conn, project_id=project_id, customer_id=body.referrer_id
        )["id"]
    return customer_id, referrer_id, summarised


def _build_lines(
    conn: Connection,
    project_id: str,
    items: list[OrderItemIn],
    now: datetime,
    *,
    write: bool = True,
    keep_unknown: bool = False,
) -> Lines:
    if not items:
        return Lines(stored=[], math=[])
    catalogue = Catalogue(conn, project_id, items, keep_unknown=keep_unknown)
    return build_lines(catalogue, items, now, write=write)


def build_lines(
    catalogue: Catalogue, items: list[OrderItemIn], now: datetime, *, write: bool = True
) -> Lines:
    """The lines of ``items`` as stored and as priced, against ``catalogue`` (loaded for
    these items, or for more: an import's step loads one for all of its orders)."""
    stored: list[dict[str, Any]] = []
    math: list[Line] = []
    for index, item in enumerate(items):
        resolved = catalogue.resolve(item, index, write=write, now=now)
        price = item.price
        if price is None:
            price = _fallback_price(item, resolved)
        try:
            line = price_line(price=price, quantity=item.quantity, amount=item.amount, index=index)
        except AmountError as exc:
            raise invalid_payload(str(exc)) from None
        stored_line = _stored_line(item, resolved, line)
        stored.append(stored_line)
        math.append(line.of_product(stored_line["product_id"]))
    return Lines(stored=stored, math=math)


def _fallback_price(item: OrderItemIn, resolved: ResolvedLine) -> int | None:
    """item.price, else the inline SKU's price, else the inline product's, else the stored
    SKU's, else the stored product's: inline data first, then the catalogue's (BEHAVIOR
    5.2)."""
    candidates = (
        item.sku.price if item.sku else None,
        item.product.price if item.product else None,
        resolved.sku["price"] if resolved.sku is not None else None,
        resolved.product["price"] if resolved.product is not None else None,
    )
    return next((p for p in candidates if p is not None), None)


def _snapshot(row: Row | None, inline: Any, name_field: str) -> dict[str, Any] | None:
    """What the line shows of its product/SKU: the catalogue's data when linked, else the
    inline data as sent."""
    if row is not None:
        snap: dict[str, Any] = {"id": row["id"], "source_id": row["source_id"]}
        if row[name_field] is not None:
            snap[name_field] = row[name_field]
        snap["metadata"] = row["metadata"] or {}
        if row["price"] is not None:
            snap["price"] = row["price"]
        return snap
    if inline is None:
        return None
    data: dict[str, Any] = inline.model_dump(exclude_none=True, exclude={"override"})
    return data or None


def _stored_line(item: OrderItemIn, resolved: ResolvedLine, line: Line) -> dict[str, Any]:
    product_id = resolved.product["id"] if resolved.product is not None else None
    sku_id = resolved.sku["id"] if resolved.sku is not None else None
    related = item.related_object
    if related is None and (item.sku_id or item.sku):
        related = "sku"
    source_id = item.source_id
    return {
        "id": ids.new_id("ordli"),
        "sku_id": sku_id or item.sku_id,
        "product_id": product_id or item.product_id,
        "related_object": related,
        "source_id": source_id,
        "quantity": line.quantity,
        "discount_quantity": 0,
        "initial_quantity": line.initial_quantity,
        "amount": line.amount,
        "discount_amount": 0,
        "initial_amount": line.initial_amount,
        "price": line.price,
        "product": _snapshot(resolved.product, item.product, "name"),
        "sku": _snapshot(resolved.sku, item.sku, "sku"),
        "metadata": item.metadata,
    }


def _key(stored: dict[str, Any]) -> LineKey:
    return (stored.get("product_id"), stored.get("sku_id"), stored.get("source_id"))


def _math_of(stored: dict[str, Any]) -> Line:
    return Line(
        product_id=stored.get("product_id"),
        quantity=stored.get("quantity"),
        price=stored.get("price"),
        amount=stored.get("amount"),
        initial_quantity=stored.get("initial_quantity"),
        initial_amount=stored.get("initial_amount"),
        discount_amount=stored.get("discount_amount") or 0,
        discount_quantity=stored.get("discount_quantity") or 0,
    )


def _with_discounts(stored: dict[str, Any], line: Line, line_id: str | None) -> dict[str, Any]:
    return {
        **stored,
        "id": line_id or stored["id"],
        "discount_amount": line.discount_amount,
        "discount_quantity": line.discount_quantity,
    }


def with_cart(
    row: Mapping[str, Any], cart: Cart, products: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """``row`` with the lines and figures of ``cart``, the order after its discounts: each
    line its quantity, amount and discounts; a line a UNIT discount added (past the stored
    lines) becomes a new line of its product, described by ``products`` (by id)."""
    stored = row["items"]
    items = []
    for index, line in enumerate(cart.lines):
        if index < len(stored):
            items.append(
                {
                    **stored[index],
                    "quantity": line.quantity,
                    "amount": line.amount,
                    "price": line.price,
                    "discount_amount": line.discount_amount,
                    "discount_quantity": line.discount_quantity,
                }
            )
            continue
        items.append(
            {
                "id": ids.new_id("ordli"),
                "sku_id": None,
                "product_id": line.product_id,
                "related_object": "product",
                "source_id": None,
                "quantity": line.quantity,
                "discount_quantity": line.discount_quantity,
                "initial_quantity": line.initial_quantity,
                "amount": line.amount,
                "discount_amount": line.discount_amount,
                "initial_amount": line.initial_amount,
                "price": line.price,
                "product": products.get(line.product_id or ""),
                "sku": None,
                "metadata": None,
            }
        )
    return {
        **row,
        "items": items,
        "amount": cart.amount,
        "discount_amount": cart.discount_amount,
        "items_discount_amount": cart.items_discount_amount,
        "total_amount": cart.total_amount,
    }
