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


_REDEMPTION_COUNTERS = (
    "redemptions_total_succeeded",
    "redemptions_total_failed",
    "redemptions_total_rollback_succeeded",
    "redemptions_total_rollback_failed",
)


def _redemption_counters(engine: sa.Engine) -> dict[str, tuple[int, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(f"SELECT id, {', '.join(_REDEMPTION_COUNTERS)} FROM customers ORDER BY id")
        ).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def test_redemption_counters_are_filled_from_the_redemptions_already_there(db_url: str) -> None:
    """Migration 0018 on a database with redemptions and rollbacks: each customer's
    summary.redemptions counters, one per lone redemption or stack child (never the stack's
    parent), one per failed redemption, one per child or lone rollback (never the parent
    rollback), one per failed rollback; records of no customer, or of another, left out."""
    upgrade(db_url, "0017")
    engine = create_db_engine(db_url, pool_size=1)
    at = datetime(2026, 1, 1)
    try:
        with engine.begin() as conn:
            _add_project(conn, at)
            for customer in ("cust_a", "cust_b", "cust_c"):
                conn.execute(
                    sa.text(
                        "INSERT INTO customers (id, project_id, metadata, created_at)"
                        " VALUES (:id, 'proj_1', '{}', :at)"
                    ),
                    {"id": customer, "at": at},
                )
            # (id, object, parent, result, status, type, customer)
            records = [
                # cust_a: a lone redemption, rolled back, then a refused second rollback.
                ("r_1", "redemption", None, "SUCCESS", "ROLLED_BACK", "voucher", "cust_a"),
                ("rr_1", "redemption_rollback", None, "SUCCESS", "SUCCEEDED", "voucher", "cust_a"),
                ("rrf_1", "redemption_rollback", None, "FAILURE", "FAILED", "voucher", "cust_a"),
                # cust_a: a stack of two (parent r_2), rolled back whole (parent rr_2), and
                # a refused second rollback of the stack (its record names the parent).
                ("r_2", "redemption", None, "SUCCESS", "ROLLED_BACK", "redemption", "cust_a"),
                ("r_3", "redemption", "r_2", "SUCCESS", "ROLLED_BACK", "voucher", "cust_a"),
                ("r_4", "redemption", "r_2", "SUCCESS", "ROLLED_BACK", "promotion_tier", "cust_a"),
                (
                    "rr_2",
                    "redemption_rollback",
                    None,
                    "SUCCESS",
                    "SUCCEEDED",
                    "redemption",
                    "cust_a",
                ),
                (
                    "rr_3",
                    "redemption_rollback",
                    "rr_2",
                    "SUCCESS",
                    "SUCCEEDED",
                    "voucher",
                    "cust_a",
                ),
                (
                    "rr_4",
                    "redemption_rollback",
                    "rr_2",
                    "SUCCESS",
                    "SUCCEEDED",
                    "voucher",
                    "cust_a",
                ),
                ("rrf_2", "redemption_rollback", None, "FAILURE", "FAILED", "redemption", "cust_a"),
                # cust_a: two refused redemptions; cust_b: one success, one refusal.
                ("rf_1", "redemption", None, "FAILURE", "FAILED", "voucher", "cust_a"),
                ("rf_2", "redemption", None, "FAILURE", "FAILED", "promotion_tier", "cust_a"),
                ("r_5", "redemption", None, "SUCCESS", "SUCCEEDED", "promotion_tier", "cust_b"),
                ("rf_3", "redemption", None, "FAILURE", "FAILED", "voucher", "cust_b"),
                # No customer; a customer since deleted.
                ("r_6", "redemption", None, "SUCCESS", "SUCCEEDED", "voucher", None),
                ("r_7", "redemption", None, "SUCCESS", "SUCCEEDED", "voucher", "cust_gone"),
            ]
            for record_id, kind, parent, result, status, related, customer in records:
                conn.execute(
                    sa.text(
                        "INSERT INTO redemptions (id, project_id, object, parent_id, created_at,"
                        " result, status, customer_id, channel_id, related_object_type,"
                        " related_object_id) VALUES (:id, 'proj_1', :object, :parent, :at,"
                        " :result, :status, :customer, 'app', :related, 'x')"
                    ),
                    {
                        "id": record_id,
                        "object": kind,
                        "parent": parent,
                        "at": at,
                        "result": result,
                        "status": status,
                        "customer": customer,
                        "related": related,
                    },
                )
        upgrade(db_url)
        found = _redemption_counters(engine)
    finally:
        engine.dispose()
    # (succeeded, failed, rollback succeeded, rollback failed)
    assert found == {"cust_a": (3, 2, 3, 2), "cust_b": (1, 1, 0, 0), "cust_c": (0, 0, 0, 0)}


def test_redemption_counters_filled_again_are_the_ones_the_api_kept(db_url: str) -> None:
    """Redemptions and rollbacks of every outcome made through the API; going back before
    0018 and up again fills the counters from the records alone: the same figures the
    running code kept."""
    from support.inprocess import open_app_client

    with open_app_client(db_url) as client:
        for code in ("A", "B", "C"):
            body = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}
            assert client.post(f"/v1/vouchers/{code}", json=body).status_code == 200
        off = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}
        assert client.post("/v1/vouchers/OFF", json={**off, "active": False}).status_code == 200

        def redeem(codes: list[str], who: str | None) -> dict[str, object]:
            body: dict[str, object] = {
                "redeemables": [{"object": "voucher", "id": code} for code in codes],
                "order": {"amount": 1000},
            }
            if who is not None:
                body["customer"] = {"source_id": who}
            response = client.post("/v1/redemptions", json=body)
            result: dict[str, object] = response.json()
            return result

        lone = redeem(["A"], "ann")
        stacked = redeem(["B", "C"], "ann")
        redeem(["OFF"], "ann")
        redeem(["A"], "ben")
        redeem(["B"], None)
        lone_id = lone["redemptions"][0]["id"]  # type: ignore[index]
        parent_id = stacked["parent_redemption"]["id"]  # type: ignore[index]
        for _ in range(2):
            client.post(f"/v1/redemptions/{lone_id}/rollback")
            client.post(f"/v1/redemptions/{parent_id}/rollbacks")
    engine = create_db_engine(db_url, pool_size=1)
    try:
        kept = _redemption_counters(engine)
        assert sorted(kept.values()) == [(1, 0, 0, 0), (3, 1, 3, 2)]
        downgrade(db_url, "0017")
        assert "redemptions_total_failed" not in _tables(db_url)["customers"]
        upgrade(db_url)
        assert _redemption_counters(engine) == kept
    finally:
        engine.dispose()
