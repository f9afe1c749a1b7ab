"""The dashboard's server-side secret: what a reader of the database lacks to forge a session.

Session keys are derived from the project's stored token hash (so a new token ends every
session) *and* this secret. The hash alone is in every backup and read-only copy of the
database; the secret never is, so neither can mint a cookie or a CSRF token.

Where it comes from, first that applies:

1. ``TALLY_DASHBOARD_SECRET``: every process and machine given the same value accepts the
   others' sessions (several servers on one PostgreSQL database).
2. A SQLite database file: a random secret in a key file beside it (``tally.db`` ->
   ``tally.db-dashboard-key``, like its -wal, -shm and -sessions files), mode 0600, made
   once by whichever process starts first. It is written whole to a temporary file and
   hard-linked into place, which fails if another process linked its own first: every
   worker of ``tally serve --workers N`` then reads the one that won. It outlives restarts,
   so sessions do too.
3. An in-memory SQLite database: a random secret held by the process (its data dies with
   it anyway).
4. Otherwise (PostgreSQL without the setting): none. Servers on several machines would
   each make their own and refuse each other's sessions behind a balancer, which half
   works; so the dashboard instead says it cannot sign anyone in until the setting is given.
"""

import contextlib
import logging
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

log = logging.getLogger("tally.dashboard")

# A shorter secret could be guessed offline from one cookie and the stored hash.
MIN_LENGTH = 32
KEY_FILE_SUFFIX = "-dashboard-key"
SETTING = "TALLY_DASHBOARD_SECRET"


@dataclass(frozen=True)
class DashboardSecret:
    """The secret, or (``value`` None) why the dashboard cannot sign anyone in, for its
    sign-in page."""

    value: bytes | None
    problem: str | None = None


def key_file_path(sqlite_path: str | None) -> Path | None:
    """Where a SQLite database file's dashboard key lives: beside it (None: in memory)."""
    if sqlite_path in (None, "", ":memory:"):
        return None
    return Path(f"{sqlite_path}{KEY_FILE_SUFFIX}")


def resolve(database_url: str, configured: str | None) -> DashboardSecret:
    """The secret this process signs dashboard sessions with (see the module's docstring).
    Never logs the secret itself."""
    if configured:
        if len(configured) < MIN_LENGTH:
            # Checked here, not by the settings model, whose error would print the value.
            problem = (
                f"The dashboard cannot sign anyone in: {SETTING} is shorter than "
                f"{MIN_LENGTH} characters. Set a longer one and restart."
            )
            log.warning("%s", problem)
            return DashboardSecret(None, problem)
        return DashboardSecret(configured.encode())
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() != "sqlite":
        problem = (
            f"The dashboard cannot sign anyone in: set {SETTING} (at least {MIN_LENGTH} "
            "characters, the same on every server of this database) and restart."
        )
        log.warning("%s", problem)
        return DashboardSecret(None, problem)
    path = key_file_path(url.database)
    if path is None:
        return DashboardSecret(secrets.token_hex(32).encode())
    try:
        return DashboardSecret(read_or_create(path))
    except (OSError, ValueError) as exc:
        # The page is public: it names neither the file nor the error; the log does.
        log.warning("the dashboard key file %s cannot be used: %s", path, exc)
        problem = (
            "The dashboard cannot sign anyone in: its key file beside the database cannot "
            f"be used (the server's log says why). Fix or remove it, or set {SETTING}, "
            "and restart."
        )
        return DashboardSecret(None, problem)


def read_or_create(path: Path) -> bytes:
    """The secret in the key file at ``path``, made first if there is none."""
    with contextlib.suppress(FileNotFoundError):
        return _read(path)
    # mkstemp creates the file with mode 0600: the secret is never readable by others,
    # not even for a moment.
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            # Atomic and exclusive: the file appears whole or not at all, and a process
            # that lost the race to another keeps none of its own.
            os.link(temp, path)
            log.info("created the dashboard key file %s", path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temp)
    return _read(path)


def _read(path: Path) -> bytes:
    with path.open("rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        value = file.read(4096).strip()
    if len(value) < MIN_LENGTH:
        raise ValueError(f"it holds fewer than {MIN_LENGTH} characters")
    if stat.S_IMODE(mode) & 0o077:
        log.warning("the dashboard key file %s is readable by other users: chmod 600 it", path)
    return value
