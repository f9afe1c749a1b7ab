"""Prepared statements give what SQLAlchemy's own execution gives, on both engines: the
same parameter conversion, the same row values, the same exception classes."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tally.db.base import JSONType, UTCDateTime
from tally.db.engine import create_db_engine
from tally.db.prepared import Prepared

meta = sa.MetaData()
things = sa.Table(
    "things",
    meta,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("data", JSONType, nullable=False),
    sa.Column("extra", JSONType),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("touched", UTCDateTime),
)

ROW: dict[str, Any] = {
    "id": "t1",
    "kind": "box",
    "amount": 9_007_199_254_740_993,  # above 2**53: no float on the way
    "data": {"nested": [1, "two", None, {"x": 1.5}], "unicode": "zażółć"},
    "extra": None,
    "at": datetime(2026, 11, 23, 6, 30, 15, 123000, tzinfo=UTC),
    "touched": None,
}

INSERT = Prepared(things.insert().values({c.name: sa.bindparam(c.name) for c in things.c}))
BY_ID = Prepared(sa.select(things).where(things.c.id == sa.bindparam("_id")))


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(db_url, pool_size=1)
    meta.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def test_rows_read_the_same_as_through_sqlalchemy(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        assert INSERT.write(conn, ROW) == 1
        conn.execute(things.insert(), {**ROW, "id": "t2"})
    with engine.connect() as conn:
        ours = {r["id"]: r for r in Prepared(sa.select(things)).all(conn, {})}
        theirs = {r["id"]: dict(r) for r in conn.execute(sa.select(things)).mappings()}
        assert ours == theirs
        assert ours["t1"] == ROW
        assert BY_ID.first(conn, {"_id": "t1"}) == ROW
        assert BY_ID.first(conn, {"_id": "nope"}) is None


def test_literal_values_of_the_statement_are_sent(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        INSERT.write(conn, ROW)
        INSERT.write(conn, {**ROW, "id": "t2", "kind": "bag"})
        # "box" is a literal SQLAlchemy turns into a parameter of its own.
        boxes = Prepared(
            sa.update(things)
            .where(things.c.kind == "box", things.c.amount > sa.bindparam("_min"))
            .values(amount=things.c.amount + 1)
        )
        assert boxes.write(conn, {"_min": 0}) == 1
        amounts = dict(conn.execute(sa.select(things.c.id, things.c.amount)).all())
    assert amounts == {"t1": ROW["amount"] + 1, "t2": ROW["amount"]}


def test_driver_errors_become_sqlalchemy_errors(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        INSERT.write(conn, ROW)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        INSERT.write(conn, {**ROW, "data": {"second": True}})
    with engine.connect() as conn:
        # The failed transaction was rolled back and the connection is usable.
        assert BY_ID.first(conn, {"_id": "t1"}) == ROW


def test_statements_that_cannot_be_prepared_are_refused(engine: sa.Engine) -> None:
    expanding = Prepared(sa.select(things).where(things.c.id.in_(["a", "b"])))
    with engine.connect() as conn, pytest.raises(ValueError, match="expanding"):
        expanding.all(conn, {})
    defaulted = sa.Table(
        "defaulted",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer, default=5),
    )
    with engine.connect() as conn, pytest.raises(ValueError, match="defaults"):
        Prepared(defaulted.insert().values(id=sa.bindparam("id"))).write(conn, {"id": 1})


def test_many_rows_in_one_driver_call(engine: sa.Engine) -> None:
    rows = [{**ROW, "id": f"m{i}", "data": {"i": i}, "extra": [i]} for i in range(3)]
    with engine.begin() as conn:
        INSERT.write_many(conn, rows)
    with engine.connect() as conn:
        stored = {r["id"]: r for r in Prepared(sa.select(things)).all(conn, {})}
    assert stored == {row["id"]: row for row in rows}
    # A duplicate key fails the whole batch, as SQLAlchemy's own error; nothing is written.
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        INSERT.write_many(conn, [{**ROW, "id": "fresh"}, {**ROW, "id": "m0"}])
    with engine.connect() as conn:
        assert BY_ID.first(conn, {"_id": "fresh"}) is None
