"""Two upserts of one new source_id at once make one product (or SKU), not a 500.

SQLite admits one writer at a time, so the race exists only on PostgreSQL: there the later
insert waits on the earlier transaction's row in the unique index, fails when it commits,
and the upsert falls back to updating that row."""

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Connection

from tally.clock import utcnow
from tally.db.engine import Database
from tally.db.migrate import upgrade
from tally.products import service
from tally.products.schemas import ProductCreate, SkuCreate
from tally.projects import repository as counters
from tally.projects.service import create_project

Upsert = Callable[[Connection, str], Any]


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite admits one writer at a time: the race cannot happen")
    upgrade(db_url)
    database = Database(db_url, pool_size=4)
    try:
        yield database
    finally:
        database.dispose()


def race(db: Database, first: Upsert, second: Upsert) -> tuple[Any, Any]:
    """Run ``first`` in a transaction that stays open until ``second`` (in another
    transaction) has had time to block on it; return both results."""
    out: dict[str, Any] = {}
    errors: list[BaseException] = []
    started = threading.Event()

    def other() -> None:
        try:
            started.wait(10)
            with db.transaction(write=True) as conn:
                out["second"] = second(conn, "second")
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    with db.transaction(write=True) as conn:
        out["first"] = first(conn, "first")
        started.set()
        thread.join(0.5)  # the other transaction now waits on our uncommitted row
        assert thread.is_alive(), "the second upsert did not wait for the first"
    thread.join(30)
    assert not errors, errors
    return out["first"], out["second"]


def new_project(db: Database) -> str:
    with db.transaction(write=True) as conn:
        return create_project(conn, name="race").project_id


def test_racing_product_upserts(db: Database) -> None:
    project_id = new_project(db)

    def upsert(conn: Connection, name: str) -> str:
        body = ProductCreate(source_id="hot", name=name)
        row, _ = service.upsert_product(conn, project_id=project_id, body=body, now=utcnow())
        return str(row["id"])

    first, second = race(db, upsert, upsert)
    assert first == second
    with db.transaction(write=False) as conn:
        row, _ = service.product_view(conn, project_id=project_id, ref="hot")
        assert row["id"] == first and row["name"] == "second"  # the later fields win
        assert counters.count(conn, project_id, "products") == 1


def test_racing_sku_upserts(db: Database) -> None:
    project_id = new_project(db)
    with db.transaction(write=True) as conn:
        service.upsert_product(
            conn, project_id=project_id, body=ProductCreate(source_id="p"), now=utcnow()
        )

    def upsert(conn: Connection, name: str) -> str:
        body = SkuCreate(source_id="hot-sku", sku=name)
        row = service.upsert_sku(
            conn, project_id=project_id, product_ref="p", body=body, now=utcnow()
        )
        return str(row["id"])

    first, second = race(db, upsert, upsert)
    assert first == second
    with db.transaction(write=False) as conn:
        _, skus = service.product_view(conn, project_id=project_id, ref="p")
        assert [(s["id"], s["sku"]) for s in skus] == [(first, "second")]
