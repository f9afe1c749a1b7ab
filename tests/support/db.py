"""Looking at the database behind the API, to prove what a request did or did not write."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from tally.db.engine import Database


def snapshot(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, sorted: equal snapshots mean nothing was written."""
    import tally.tables  # noqa: F401
    from tally.db.base import metadata

    out: dict[str, list[tuple[object, ...]]] = {}
    with db.transaction(write=False) as conn:
        for table in metadata.sorted_tables:
            rows = conn.execute(sa.select(table)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out
