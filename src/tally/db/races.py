"""Errors that mean a transaction lost a race with another one, and may simply run again."""

from sqlalchemy.exc import DBAPIError, IntegrityError


def lost_race(exc: DBAPIError) -> bool:
    """Two upserts of one new key (the second run sees the winner's row), a deadlock, a
    serialization failure, or a lock wait past the transaction's lock_timeout (PostgreSQL
    40P01, 40001, 55P03)."""
    if isinstance(exc, IntegrityError):
        text = str(exc.orig).lower()
        return "unique" in text or "duplicate key" in text
    code = getattr(exc.orig, "sqlstate", None)
    return code in ("40001", "40P01", "55P03")
