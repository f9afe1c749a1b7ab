"""An import step of new orders written in a few statements (tally.orders.tasks).

Written one by one, an order costs about six statements (its lookup, its customer's lookup
and insert, its products' lookup, its insert, its customer's summary): on PostgreSQL each
is a round trip, and 2,000 orders took seconds. A step whose orders are all new, name their
customer by source_id (or not at all), have no referrer and leave the catalogue as it is,
is written here instead: one lookup for the step's orders, one for its customers, one per
kind for its products and SKUs, then each table in one driver call (executemany, which
psycopg pipelines).

The result is the one service.create gives order after order: rows are made by the same
functions (service.new_row, service.build_lines, customers.new_row); a customer named again
gets each later order's fields over it, as successive upserts would; summaries and day
buckets get the sums of what each order would have added. Any other step goes the one-order
way, where a stored order is upserted and override lines change the catalogue.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Connection

from tally.core import order_history
from tally.core.order_history import Change, OrderState
from tally.customers import repository as customers_repository
from tally.customers import service as customers
from tally.customers.schemas import CustomerRef
from tally.errors import TallyError
from tally.orders import repository, service
from tally.orders.catalogue import Catalogue
from tally.orders.schemas import OrderCreate
from tally.projects import repository as counters


def batchable(body: OrderCreate) -> bool:
    """Whether the order can be written here, as far as the payload tells: not named by
    id, a customer by source_id or none, no referrer, no override line."""
    if body.id is not None or body.referrer is not None or body.referrer_id is not None:
        return False
    if body.customer is not None and body.customer.id is not None:
        return False
    return not any(
        (item.product is not None and item.product.override)
        or (item.sku is not None and item.sku.override)
        for item in body.items or []
    )


def write(
    conn: Connection, project_id: str, bodies: list[OrderCreate], now: datetime
) -> list[str | None] | None:
    """Write ``bodies`` as service.create would one after the other, in the caller's
    transaction: for each, None, or why it failed (nothing of it is written). None when
    some order needs the one-order path: then nothing at all is written."""
    if not all(batchable(body) for body in bodies):
        return None
    sources = [body.source_id for body in bodies if body.source_id is not None]
    if len(set(sources)) != len(sources):
        return None  # a later one is an upsert of the earlier one
    if repository.ids_by_source_id(conn, project_id, set(sources)):
        return None  # stored orders are upserted
    catalogue = Catalogue(conn, project_id, [item for b in bodies for item in b.items or []])
    outcomes: list[str | None] = []
    made: list[tuple[dict[str, Any], OrderCreate]] = []
    for body in bodies:
        # Only the lines and totals can fail here, and they fail before create writes
        # anything of the order (its customer included).
        try:
            lines = service.build_lines(catalogue, body.items or [], now)
            row = service.new_row(project_id, body, lines, now)
        except TallyError as exc:
            outcomes.append(exc.details or exc.message)
            continue
        outcomes.append(None)
        made.append((row, body))
    if not made:
        return outcomes
    people = _Customers.load(conn, project_id, [b.customer for _, b in made if b.customer])
    for row, body in made:
        if body.customer is not None:
            row["customer_id"] = people.upsert(body.customer, now)
    rows = [row for row, _ in made]
    ties = people.summarise(rows)
    people.save(conn)
    repository.insert_many(conn, rows)
    counters.bump(conn, project_id, "orders", len(rows))
    _record_orders(conn, project_id, rows, people, ties)
    return outcomes


@dataclass
class _Customers:
    """The step's customers as successive upserts would leave them: the stored ones (by
    source_id) with the fields sent since, and the ones the step creates."""

    project_id: str
    stored: dict[str, Mapping[str, Any]]
    changed: dict[str, dict[str, Any]] = field(default_factory=dict)  # stored id -> values
    created: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> row
    by_source: dict[str, str] = field(default_factory=dict)  # source_id -> created id

    @classmethod
    def load(cls, conn: Connection, project_id: str, refs: list[CustomerRef]) -> "_Customers":
        sources = {ref.source_id for ref in refs if ref.source_id is not None}
        return cls(project_id, customers_repository.by_source_ids(conn, project_id, sources))

    def upsert(self, ref: CustomerRef, now: datetime) -> str:
        """The id of the customer ``ref`` names after its upsert (customers.upsert_for_order
        by source_id: created when unknown, else the fields sent written over it)."""
        source = ref.source_id
        created_id = self.by_source.get(source) if source is not None else None
        if created_id is not None:
            values = customers.field_values(ref)
            if values:
                self.created[created_id].update(values, updated_at=now)
            return created_id
        stored = self.stored.get(source) if source is not None else None
        if stored is not None:
            values = customers.field_values(ref)
            if values:
                self.changed.setdefault(stored["id"], {}).update(values, updated_at=now)
            return str(stored["id"])
        row = customers.new_row(self.project_id, ref, now)
        self.created[row["id"]] = row
        if source is not None:
            self.by_source[source] = row["id"]
        return str(row["id"])

    def summarise(self, rows: list[dict[str, Any]]) -> list[str]:
        """Give each created customer the summary of its orders in ``rows`` (all its
        orders); the ones whose newest purchases share one moment, whose last order only
        the orders index can tell (it breaks the tie by id, in the database's collation)."""
        newest: dict[str, list[datetime]] = {}
        for row in rows:
            customer = self.created.get(row["customer_id"] or "")
            if customer is None or row["status"] not in order_history.COUNTED_STATUSES:
                continue
            customer["orders_total_count"] += 1
            customer["orders_total_amount"] += row["total_amount"]
            at = _instant(row["created_at"])
            last = customer["orders_last_date"]
            if last is None or at > _instant(last):
                customer["orders_last_date"] = row["created_at"]
                customer["orders_last_amount"] = row["total_amount"]
                newest[customer["id"]] = [at]
            elif at == _instant(last):
                newest[customer["id"]].append(at)
        return sorted(customer_id for customer_id, at in newest.items() if len(at) > 1)

    def save(self, conn: Connection) -> None:
        if self.created:
            customers_repository.insert_many(conn, list(self.created.values()))
            counters.bump(conn, self.project_id, "customers", len(self.created))
        if self.changed:
            customers_repository.update_many(conn, self.project_id, sorted(self.changed.items()))


def _instant(moment: datetime) -> datetime:
    # The stores keep naive moments as UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _record_orders(
    conn: Connection,
    project_id: str,
    rows: list[dict[str, Any]],
    people: _Customers,
    ties: list[str],
) -> None:
    """What customers.record_order adds for each new order, summed: day buckets per
    customer and day, summaries of the stored customers (the created ones have theirs, see
    :meth:`_Customers.summarise`)."""
    days: dict[tuple[str, date], tuple[int, int]] = {}
    for row in rows:
        state = OrderState(
            row["customer_id"], row["status"], row["total_amount"], row["created_at"]
        )
        for change in order_history.changes(None, state):
            count, amount = days.get((change.customer_id, change.day), (0, 0))
            days[(change.customer_id, change.day)] = (count + change.count, amount + change.amount)
    if not days:
        return
    found = [Change(c, d, count, amount) for (c, d), (count, amount) in sorted(days.items())]
    summed = order_history.per_customer(found)
    stored = sorted(c for c in summed if c not in people.created)
    if stored:
        customers_repository.lock(conn, project_id, stored)
        customers_repository.add_to_days(
            conn,
            project_id,
            [change for change in found if change.customer_id not in people.created],
        )
    # A customer made in this step has no day bucket yet: nothing to add to.
    customers_repository.insert_days(
        conn, project_id, [change for change in found if change.customer_id in people.created]
    )
    deltas = [(c, *summed[c]) for c in stored] + [(c, 0, 0) for c in ties]
    if deltas:
        customers_repository.add_to_summaries(conn, project_id, deltas)
