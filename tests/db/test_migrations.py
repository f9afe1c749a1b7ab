"""Migrations run up, down and up again on both engines, and leave exactly the schema the
code's table definitions describe."""

from datetime import datetime

import sqlalchemy as sa

import tally.tables  # noqa: F401  (registers every table)
from tally.db.base import metadata
from tally.db.engine import create_db_engine
from tally.db.migrate import downgrade, upgrade


def _tables(url: str) -> dict[str, set[str]]:
    engine = create_db_engine(url, pool_size=1)
    try:
        inspector = sa.inspect(engine)
        return {
            name: {c["name"] for c in inspector.get_columns(name)}
            for name in inspector.get_table_names()
            if name != "alembic_version"
        }
    finally:
        engine.dispose()


def _indexes(url: str, table: str) -> set[str]:
    engine = create_db_engine(url, pool_size=1)
    try:
        if engine.dialect.name == "sqlite":
            # SQLAlchemy's SQLite inspector skips expression indexes; the catalogue has them.
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text(
                        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
                    ),
                    {"t": table},
                )
                return {row[0] for row in rows}
        return {ix["name"] for ix in sa.inspect(engine).get_indexes(table) if ix["name"]}
    finally:
        engine.dispose()


def _add_project(conn: sa.Connection, at: datetime) -> None:
    """Project proj_1, written as the schema of any revision takes it."""
    conn.execute(
        sa.text(
            "INSERT INTO projects (id, name, app_id, app_token_hash, created_at)"
            " VALUES ('proj_1', 'p', 'app', 'hash', :at)"
        ),
        {"at": at},
    )


def test_up_down_up(db_url: str) -> None:
    upgrade(db_url)
    expected = {t.name: {c.name for c in t.columns} for t in metadata.sorted_tables}
    assert _tables(db_url) == expected
    # Every index the code declares exists, expression indexes included.
    for table in metadata.sorted_tables:
        declared = {ix.name for ix in table.indexes if ix.name}
        assert declared <= _indexes(db_url, table.name), table.name
    downgrade(db_url, "base")
    assert _tables(db_url) == {}
    upgrade(db_url)
    assert _tables(db_url) == expected
    # Running it again is a no-op.
    upgrade(db_url)
    assert _tables(db_url) == expected


def test_indexes_of_optional_links_leave_rows_without_one_out(db_url: str) -> None:
    """Partial indexes (migrations 0007, 0013): a row without a customer, referrer, email
    or order writes no entry in their index, and only pending deliveries are in the
    deliverer's, as the code's table definitions declare."""
    upgrade(db_url)
    partial = {
        ix.name
        for table in metadata.sorted_tables
        for ix in table.indexes
        if ix.dialect_options["sqlite"]["where"] is not None
    }
    assert partial == {
        "ix_orders_project_id_customer_id_created_at_id",
        "ix_orders_referrer_id",
        "ix_redemptions_project_id_customer_id_created_at",
        "ix_customers_project_id_email",
        "ix_events_project_id_order_id_txid_seq",
        "ix_events_project_id_customer_id_txid_seq",
        "ix_webhook_deliveries_next_attempt_at",
    }
    engine = create_db_engine(db_url, pool_size=1)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                query = "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
            else:
                query = "SELECT indexname, indexdef FROM pg_indexes"
            definitions = dict(conn.execute(sa.text(query)).all())
    finally:
        engine.dispose()
    for name in partial:
        where = definitions[name].upper().partition("WHERE")[2]
        expected = "'PENDING'" if name.startswith("ix_webhook_deliveries") else "IS NOT NULL"
        assert expected in where, definitions[name]


def test_day_buckets_are_filled_from_the_orders_already_there(db_url: str) -> None:
    """Migration 0009 on a database with orders: each customer's purchases per UTC day,
    counted statuses only, orders without a customer left out."""
    from datetime import UTC, date

    upgrade(db_url, "0008")
    engine = create_db_engine(db_url, pool_size=1)
    at = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)
    late = datetime(2026, 1, 2, 0, 15, tzinfo=UTC)
    try:
        with engine.begin() as conn:
            _add_project(conn, at)
            for customer in ("cust_a", "cust_b"):
                conn.execute(
                    sa.text(
                        "INSERT INTO customers (id, project_id, metadata, created_at)"
                        " VALUES (:id, 'proj_1', '{}', :at)"
                    ),
                    {"id": customer, "at": at},
                )
            orders = [
                ("ord_1", "cust_a", "PAID", 100, at),
                ("ord_2", "cust_a", "FULFILLED", 200, at),
                ("ord_3", "cust_a", "PAID", 400, late),
                ("ord_4", "cust_a", "CANCELED", 800, at),
                ("ord_5", "cust_b", "CREATED", 1600, at),
                ("ord_6", None, "PAID", 3200, at),
            ]
            for order_id, customer, status, amount, when in orders:
                conn.execute(
                    sa.text(
                        "INSERT INTO orders (id, project_id, status, amount, initial_amount,"
                        " discount_amount, items_discount_amount, total_amount, items,"
                        " metadata, redemptions, customer_id, created_at) VALUES (:id,"
                        " 'proj_1', :status, :amount, :amount, 0, 0, :amount, '[]', '{}', '{}',"
                        " :customer, :at)"
                    ),
                    {
                        "id": order_id,
                        "status": status,
                        "amount": amount,
                        "customer": customer,
                        "at": when
                        if engine.dialect.name != "sqlite"
                        else when.replace(tzinfo=None),
                    },
                )
        upgrade(db_url)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT customer_id, day, project_id, orders_count, orders_amount"
                    " FROM customer_order_days ORDER BY customer_id, day"
                )
            ).all()
    finally:
        engine.dispose()
    days = [(r[0], str(r[1]), r[2], r[3], r[4]) for r in rows]
    assert days == [
        ("cust_a", str(date(2026, 1, 1)), "proj_1", 2, 300),
        ("cust_a", str(date(2026, 1, 2)), "proj_1", 1, 400),
    ]


def test_going_back_before_0017_gives_each_event_its_own_data_again(db_url: str) -> None:
    """Migration 0017's downgrade: an event that showed another's data gets a copy of it
    before the column that named the other goes."""
    import json
    from datetime import UTC

    from tally.events.tables import events

    upgrade(db_url)
    engine = create_db_engine(db_url, pool_size=1)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    shared = {"order": {"id": "ord_1", "amount": 100}, "customer": None}
    try:
        with engine.begin() as conn:
            _add_project(conn, at)
            row = {"project_id": "proj_1", "entity_id": "ord_1", "order_id": "ord_1"}
            row |= {"channel": "API", "created_at": at, "same_data_as": None}
            conn.execute(
                events.insert(),
                [
                    {**row, "id": "evcus_1", "type": "customer.order.created", "data": shared},
                    {
                        **row,
                        "id": "evcus_2",
                        "type": "customer.order.paid",
                        "data": None,
                        "same_data_as": "evcus_1",
                    },
                ],
            )
    finally:
        engine.dispose()
    downgrade(db_url, "0016")
    assert "same_data_as" not in _tables(db_url)["events"]
    engine = create_db_engine(db_url, pool_size=1)
    try:
        with engine.connect() as conn:
            stored = dict(conn.execute(sa.text("SELECT id, data FROM events")).all())
    finally:
        engine.dispose()
    as_json = {key: json.loads(v) if isinstance(v, str) else v for key, v in stored.items()}
    assert as_json == {"evcus_1": shared, "evcus_2": shared}
