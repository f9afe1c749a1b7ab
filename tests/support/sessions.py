"""Holding and probing an order session from outside the server, through the same locks a
server process takes (BEHAVIOR 13): a file lock next to a SQLite database, a transaction
advisory lock on PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from tally.db.locks import FileLocks, lock_file_path, lock_number


def _sqlite_path(db_url: str) -> str | None:
    return sa.engine.make_url(db_url).database if db_url.startswith("sqlite") else None


@contextmanager
def holding(db_url: str, project_id: str, name: str) -> Iterator[None]:
    """Hold lock ``name`` (``o:<order id>``, ``s:<source_id>``, ``r:<redemption id>``) of
    ``project_id`` until the block ends, as an in-flight request would."""
    number = lock_number(project_id, name)
    path = _sqlite_path(db_url)
    if path is not None:
        locks = FileLocks(lock_file_path(path))
        try:
            assert locks.try_acquire([number]) is None, f"{name} is already held"
            yield
        finally:
            locks.close()
        return
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn, conn.begin():
            taken = conn.execute(
                sa.text("SELECT pg_try_advisory_xact_lock(:n)"), {"n": number}
            ).scalar_one()
            assert taken, f"{name} is already held"
            yield
    finally:
        engine.dispose()


def is_held(db_url: str, project_id: str, name: str) -> bool:
    """Whether some process holds lock ``name`` right now."""
    number = lock_number(project_id, name)
    path = _sqlite_path(db_url)
    if path is not None:
        locks = FileLocks(lock_file_path(path))
        try:
            return locks.try_acquire([number]) is not None
        finally:
            locks.close()
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            held = conn.execute(
                sa.text("SELECT pg_try_advisory_xact_lock(:n)"), {"n": number}
            ).scalar_one()
            conn.rollback()
            return not held
    finally:
        engine.dispose()


@contextmanager
def blocking_redemptions_of(db_url: str, code: str) -> Iterator[None]:
    """A redemption of ``code`` stops half-way, after it took its order's session, until the
    block ends. SQLite: the database's write lock is held; PostgreSQL: the voucher's row."""
    path = _sqlite_path(db_url)
    if path is not None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(sa.text("SELECT 1 FROM vouchers WHERE code = :c FOR UPDATE"), {"c": code})
            yield
    finally:
        engine.dispose()
