"""Readiness: whether this process can serve requests now."""

from functools import cache

from sqlalchemy.engine import Connection

from tally.db.schema_version import head_revision, revision_of


@cache
def _expected() -> str:
    return head_revision()


def migration_problem(conn: Connection) -> str | None:
    """Why the database does not match this code's migrations (None: it does). A process
    of a new release must not take traffic before `tally migrate` ran, and an old one
    after a newer release migrated the database is as wrong."""
    found = revision_of(conn)
    expected = _expected()
    if found == expected:
        return None
    if found is None:
        return "the database has never been migrated: run `tally migrate`"
    return (
        f"the database is at migration {found}, this release needs {expected}: run `tally migrate`"
    )
