"""Readiness: whether this process can serve requests now."""

from functools import cache

from sqlalchemy.engine import Connection

from tally.db.schema_version import head_revision, is_known, revision_of


@cache
def _expected() -> str:
    return head_revision()


def migration_problem(conn: Connection) -> str | None:
    """Why this release cannot serve the database (None: it can). A process of a new
    release must not take traffic before `tally migrate` ran."""
    found = revision_of(conn)
    expected = _expected()
    if found == expected:
        return None
    if found is None:
        return "the database has never been migrated: run `tally migrate`"
    if not is_known(found):
        # Newer than this release: a deploy ran `tally migrate` first, as it should.
        # Migrations are additive, so this release keeps serving until it is replaced
        # (docs/deployment.md); calling it unready would empty the balancer at once.
        return None
    return (
        f"the database is at migration {found}, this release needs {expected}: run `tally migrate`"
    )
