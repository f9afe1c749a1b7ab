"""The one error of the operator commands (backup, restore, copy)."""


class Refused(Exception):
    """The command will not run, or stopped before doing harm; the message says why and
    what to do instead."""


OPERATIONS_DOC = "docs/operations.md"

POSTGRES_BACKUPS = (
    "TALLY_DATABASE_URL is a PostgreSQL database: back it up with pg_dump -Fc and bring it "
    "back with pg_restore, or take base backups with WAL archiving for point-in-time "
    f"recovery ({OPERATIONS_DOC}, section Backups). tally backup and tally restore work on "
    "the embedded SQLite database."
)
