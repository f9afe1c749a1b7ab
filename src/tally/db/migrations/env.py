"""Alembic environment: Tally's metadata, batch mode on SQLite."""

from alembic import context

import tally.tables  # noqa: F401  (registers every table on the metadata)
from tally.db.base import metadata
from tally.db.engine import create_db_engine

config = context.config


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_db_engine(url, pool_size=1)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
