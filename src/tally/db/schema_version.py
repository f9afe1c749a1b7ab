"""Which migration a database is at, and whether this code knows it (for restores and
copies, which must not run on a schema they do not understand)."""

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection

from tally.db.migrate import alembic_config

# Where Alembic records the revision a database is at.
VERSION_TABLE = "alembic_version"


def _scripts() -> ScriptDirectory:
    # The URL is not used to read the scripts.
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str:
    """The newest migration of this code."""
    head = _scripts().get_current_head()
    assert head is not None
    return head


def is_known(revision: str) -> bool:
    """Whether ``revision`` is one of this code's migrations (so the head, or older: the
    history is one line)."""
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


def revision_of(conn: Connection) -> str | None:
    """The revision recorded in the database of ``conn``; None when it has no version
    table or no row in it (not a Tally database, or never migrated)."""
    if not conn.dialect.has_table(conn, VERSION_TABLE):
        return None
    row = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").first()
    return None if row is None else str(row[0])
