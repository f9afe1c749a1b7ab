"""Fixtures of the operator commands' tests: empty databases to copy into."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.postgres import PostgresServer


@pytest.fixture
def empty_postgres(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty PostgreSQL database (no migrations run) on the session's server."""
    name = postgres_server.create_database("copy")
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def empty_sqlite(tmp_path: Path) -> str:
    """Where a new SQLite database can be made (the file does not exist yet)."""
    directory = tmp_path / "copies"
    directory.mkdir()
    return f"sqlite:///{directory}/copy.db"
