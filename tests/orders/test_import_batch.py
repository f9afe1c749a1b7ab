"""An import's batched steps (tally.orders.batch) leave exactly what the create path leaves,
on both engines: two projects get the same catalogue, customers and orders first; then one
imports a list of orders and the other creates them one request at a time, and every row of
orders, lines, customers, summaries, day buckets, products, SKUs and counters is compared
(ids mapped to names, since each project makes its own)."""

import time
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tally.core.money import MAX_MONEY
from tally.customers.tables import customer_order_days, customers
from tally.db.engine import Database
from tally.errors import TallyError
from tally.orders import batch, service, tasks
from tally.orders.schemas import OrderCreate
from tally.orders.tables import orders
from tally.products.tables import products, skus
from tally.projects.service import create_project
from tally.projects.tables import counters

BEFORE = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
NOW = datetime(2024, 6, 2, 12, 0, 0, 123000, tzinfo=UTC)


def _line(source: str, quantity: int, price: int | None = None, **more: Any) -> dict[str, Any]:
    line: dict[str, Any] = {"source_id": source, "related_object": "product", "quantity": quantity}
    if price is not None:
        line["price"] = price
    return {**line, **more}


def _setup(db: Database) -> tuple[str, str]:
    """A project with a catalogue, a stored customer with purchases and a stored order; its
    id and its stored product's id."""
    with db.transaction(write=True) as conn:
        project_id = create_project(conn, name=f"p{time.monotonic_ns()}").project_id
    stored = [
        {
            "source_id": "old-1",
            "status": "PAID",
            "created_at": "2024-04-01T08:00:00Z",
            "customer": {"source_id": "known", "name": "Known", "metadata": {"tier": 1}},
            "items": [
                {
                    "source_id": "shelf",
                    "related_object": "product",
                    "quantity": 1,
                    "product": {"override": True, "name": "Shelf", "price": 4200},
                },
                {
                    "related_object": "sku",
                    "source_id": "shelf-oak",
                    "quantity": 1,
                    "product": {"source_id": "shelf"},
                    "sku": {"override": True, "sku": "Oak", "price": 5100},
                },
            ],
        },
        {
            "source_id": "old-2",
            "status": "FULFILLED",
            "amount": 900,
            "customer": {"source_id": "known"},
        },
    ]
    with db.transaction(write=True) as conn:
        for body in stored:
            service.create(
                conn, project_id=project_id, body=OrderCreate.model_validate(body), now=BEFORE
            )
        product_id = conn.execute(
            sa.select(products.c.id).where(
                products.c.project_id == project_id, products.c.source_id == "shelf"
            )
        ).scalar_one()
    return project_id, product_id


def _new_orders(product_id: str) -> list[dict[str, Any]]:
    """Orders a batch can take: all new; customers new, stored, named again, or without
    source_id; lines by catalogue source_id, id or SKU (prices from the catalogue), or
    unknown to it; dates of their own, ties among a customer's purchases; some failing."""
    bodies: list[dict[str, Any]] = []
    for n in range(12):
        bodies.append(
            {
                "source_id": f"new-{n}",
                "status": ("PAID", "FULFILLED", "CREATED", "CANCELED")[n % 4],
                # Apart: which of a customer's purchases at one moment is its last is down
                # to their random ids (the tie below has equal amounts).
                "created_at": f"2024-05-{10 + n:02d}T10:00:00Z",
                "customer": {"source_id": f"c-{n % 5}", "name": f"C{n % 5} v{n}"},
                "items": [_line(f"free-{n % 3}", 1 + n % 2, 100 * (n + 1), metadata={"n": n})],
                "metadata": {"n": n},
            }
        )
    bodies += [
        # The stored customer: new fields over it, and purchases before and after its last.
        {
            "source_id": "k-1",
            "status": "PAID",
            "created_at": "2024-03-01T10:00:00+02:00",
            "customer": {"source_id": "known", "email": "known@example.com"},
            "items": [_line("shelf", 2)],
        },
        {
            "source_id": "k-2",
            "status": "PAID",
            "customer": {"source_id": "known", "metadata": None},
            "items": [{"product_id": product_id, "quantity": 1}],
        },
        {"source_id": "k-3", "status": "CREATED", "amount": 10, "customer": {"source_id": "known"}},
        # A customer named by source_id whose two newest purchases share a moment.
        *(
            {
                "source_id": f"tie-{n}",
                "status": "PAID",
                "created_at": "2024-01-01T00:00:00Z",
                "amount": 5000,
                "customer": {"source_id": "tied"},
            }
            for n in range(3)
        ),
        {
            "source_id": "tie-early",
            "status": "FULFILLED",
            "created_at": "2023-12-31T23:59:59.999Z",
            "amount": 7,
            "customer": {"source_id": "tied", "phone": "+48 1"},
        },
        # Customers without source_id: one each time.
        {"source_id": "anon-1", "status": "PAID", "amount": 300, "customer": {"name": "Anon A"}},
        {"source_id": "anon-2", "status": "PAID", "amount": 300, "customer": {"name": "Anon B"}},
        # No customer, no source_id, a naive date (UTC), an SKU line.
        {
            "status": "PAID",
            "created_at": "2024-02-02T02:02:02",
            "items": [{"related_object": "sku", "source_id": "shelf-oak", "quantity": 3}],
            "metadata": {"n": "no-source"},
        },
        # Failing: an unknown product id, an unknown SKU id, a line over the money limit.
        {
            "source_id": "bad-1",
            "customer": {"source_id": "never"},
            "items": [{"product_id": "prod_missing"}],
        },
        {"source_id": "bad-2", "items": [{"sku_id": "sku_missing", "quantity": 1}]},
        {"source_id": "bad-3", "items": [_line("shelf", 2, MAX_MONEY)]},
        # A customer made earlier in the step, its birthday and address written over.
        {
            "source_id": "late",
            "status": "FULFILLED",
            "created_at": "2024-06-01T00:00:00Z",
            "customer": {
                "source_id": "c-1",
                "birthday": "1990-01-02",
                "address": {"city": "Gdansk"},
            },
            "amount": 1234,
        },
    ]
    return bodies


def _upserts() -> list[dict[str, Any]]:
    """Orders only the one-order path takes: a stored order named again, one named twice,
    a referrer, an override line (steps holding them go order by order)."""
    return [
        {"source_id": "old-1", "status": "CANCELED"},
        {"source_id": "twice", "status": "PAID", "amount": 50, "customer": {"source_id": "c-0"}},
        {"source_id": "twice", "status": "FULFILLED", "amount": 70},
        {"source_id": "ref", "amount": 5, "referrer": {"source_id": "c-2"}},
        {
            "source_id": "ovr",
            "items": [_line("fresh", 1, product={"override": True, "name": "Fresh", "price": 10})],
        },
    ]


def _created_one_by_one(
    db: Database, project_id: str, bodies: list[dict[str, Any]]
) -> list[str | None]:
    """Each order through the create path, one transaction each (as requests would)."""
    outcomes: list[str | None] = []
    for body in bodies:
        try:
            with db.transaction(write=True) as conn:
                service.create(
                    conn, project_id=project_id, body=OrderCreate.model_validate(body), now=NOW
                )
        except TallyError as exc:
            outcomes.append(exc.details or exc.message)
        else:
            outcomes.append(None)
    return outcomes


def _state(db: Database, project_id: str) -> dict[str, Any]:
    """The project's rows with every id replaced by a name the payloads gave it."""
    with db.transaction(write=False) as conn:

        def rows(table: sa.Table) -> list[dict[str, Any]]:
            found = conn.execute(sa.select(table).where(table.c.project_id == project_id))
            return [dict(row) for row in found.mappings()]

        tables = {t.name: rows(t) for t in (orders, customers, customer_order_days, products, skus)}
        counted = conn.execute(
            sa.select(counters.c.name, sa.func.sum(counters.c.value))
            .where(counters.c.project_id == project_id)
            .group_by(counters.c.name)
        ).all()
    names: dict[str, str] = {}
    for row in tables["customers"]:
        names[row["id"]] = f"customer:{row['source_id'] or row['name']}"
    for kind in ("products", "skus"):
        for row in tables[kind]:
            names[row["id"]] = f"{kind}:{row['source_id']}"
    for row in tables["orders"]:
        label = f"order:{row['source_id'] or row['metadata']['n']}"
        names[row["id"]] = label
        for index, line in enumerate(row["items"]):
            names[line["id"]] = f"{label}#{index}"

    def named(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: named(v) for k, v in value.items() if k != "project_id"}
        if isinstance(value, list):
            return [named(v) for v in value]
        return names.get(value, value) if isinstance(value, str) else value

    out: dict[str, Any] = {name: sorted(map(repr, named(found))) for name, found in tables.items()}
    out["counters"] = sorted((name, int(value)) for name, value in counted)
    return out


def test_a_batched_step_leaves_what_the_create_path_leaves(db: Database) -> None:
    batched, product_a = _setup(db)
    one_by_one, product_b = _setup(db)
    assert _state(db, batched) == _state(db, one_by_one)  # the same start

    with db.transaction(write=True) as conn:
        bodies = [OrderCreate.model_validate(b) for b in _new_orders(product_a)]
        outcomes = batch.write(conn, batched, bodies, NOW)
    expected = _created_one_by_one(db, one_by_one, _new_orders(product_b))

    assert outcomes is not None, "the batch refused orders it was made for"
    assert outcomes == expected
    assert [o is None for o in outcomes].count(False) == 3  # the three bad ones
    state = _state(db, batched)
    assert state == _state(db, one_by_one)
    tied = next(r for r in state["customers"] if "'customer:tied'" in r)
    assert "'orders_total_count': 4" in tied and "'orders_last_amount': 5000" in tied


def test_steps_the_batch_leaves_to_the_one_order_path(db: Database) -> None:
    batched, product_a = _setup(db)
    upserts = _upserts()
    with db.transaction(write=True) as conn:
        for alone in (upserts[0], upserts[3], upserts[4]):  # stored, a referrer, an override
            assert batch.write(conn, batched, [OrderCreate.model_validate(alone)], NOW) is None
        twice = [OrderCreate.model_validate(body) for body in upserts[1:3]]
        assert batch.write(conn, batched, twice, NOW) is None
        assert batch.write(conn, batched, twice[:1], NOW) == [None]
    assert batch.batchable(OrderCreate.model_validate(_new_orders(product_a)[0]))


def _imported(db: Database, project_id: str, raw: list[dict[str, Any]]) -> dict[str, Any]:
    """``raw`` through the import's steps, as its job writes them (the clock fixed)."""
    state, careful = tasks.new_state(), False
    while state["next"] < len(raw):
        state, careful = tasks.write_step(
            db, project_id, raw, state, clock=lambda: NOW, trusted=False, careful=careful
        )
    return state


@pytest.mark.parametrize(("step", "lines"), [(4, 5000), (250, 5000), (250, 4)])
def test_an_import_of_batched_and_one_order_steps_matches_the_create_path(
    db: Database, monkeypatch: pytest.MonkeyPatch, step: int, lines: int
) -> None:
    """Steps of new orders, steps with upserts, customers named again across steps;
    batches cut by their lines."""
    monkeypatch.setattr(tasks, "STEP_ORDERS", step)
    monkeypatch.setattr(tasks, "STEP_LINES", lines)
    imported, product_a = _setup(db)
    one_by_one, product_b = _setup(db)
    invalid = {"source_id": "schema", "amount": -5}
    raw = [*_new_orders(product_a), invalid, *_upserts(), *_new_orders(product_a)[:3]]
    state = _imported(db, imported, raw)

    reference = [*_new_orders(product_b), *_upserts(), *_new_orders(product_b)[:3]]
    outcomes = _created_one_by_one(db, one_by_one, reference)
    failed = [
        {"source_id": body["source_id"], "reason": why}
        for body, why in zip(reference, outcomes, strict=True)
        if why is not None
    ]
    assert state["done"] == outcomes.count(None)
    assert [f for f in state["failed"] if f["source_id"] != "schema"] == failed
    assert [f["source_id"] for f in state["failed"]] == ["bad-1", "bad-2", "bad-3", "schema"]
    a, b = _state(db, imported), _state(db, one_by_one)
    for k in a:
        for r in sorted(set(a[k]) ^ set(b[k])):
            print("A" if r in a[k] else "B", k, r)
    assert a == b


def test_a_batched_step_stops_at_its_lines(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "STEP_LINES", 7)
    project_id, _ = _setup(db)
    raw = [{"source_id": f"l-{n}", "items": [_line("x", 1, 5)] * 3} for n in range(5)]
    state, _ = tasks.write_step(
        db, project_id, raw, tasks.new_state(), clock=lambda: NOW, trusted=False, careful=False
    )
    assert (state["next"], state["done"]) == (2, 2)  # a third order would make 9 lines
