"""Migrations run up, down and up again on both engines, and leave exactly the schema the
code's table definitions describe."""

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
    """Partial indexes (migration 0007): a row without a customer, referrer or email writes
    no entry in their index, as the code's table definitions declare."""
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
        assert "WHERE" in definitions[name].upper() and "IS NOT NULL" in definitions[name].upper()
