"""The embedded database as files: where it is, what a file holds, and whether another
process has it open. No policy here: backups, restores and copies decide what to do."""

import contextlib
import fcntl
import os
import sqlite3
import struct
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from tally.db.schema_version import VERSION_TABLE

HEADER = b"SQLite format 3\x00"
# Files SQLite (and Tally's order sessions, tally.db.locks) keep beside a database.
COMPANIONS = ("-wal", "-shm", "-journal", "-sessions")

# In the -shm file of a WAL database every connection holds a read lock on this byte for
# as long as it is open (SQLite's "dead man switch", UNIX_SHM_DMS in os_unix.c): the first
# connection to come takes it exclusively to know it must rebuild the index.
_DMS_BYTE = 128
# struct flock on Linux: l_type, l_whence, l_start, l_len, l_pid, padding.
_FLOCK = "hhqqi4x"


def database_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for any other database (or an in-memory one)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).absolute()


def companion(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def is_sqlite_file(path: Path) -> bool:
    """Whether ``path`` starts as every SQLite database file does."""
    try:
        with path.open("rb") as file:
            return file.read(len(HEADER)) == HEADER
    except OSError:
        return False


def open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot change the file (a backup someone hands us)."""
    return sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, isolation_level=None)


def opened_by_another_process(path: Path) -> bool:
    """Whether another process has the WAL database ``path`` open, asked without taking
    any lock (F_GETLK reports other processes' locks only). Every Tally process keeps its
    connections open and in WAL mode, so a server or worker is always seen.

    Ask it before this process opens any connection to the database. POSIX locks belong
    to a process and a file, not to a descriptor: closing the descriptor this asks through
    drops every lock this process holds on the -shm, those of its own SQLite connections
    too, and another process would then no longer see them (and could rebuild the -shm
    under them). Before any connection of ours there is nothing of ours to drop."""
    # SQLite follows a symbolic link and keeps the -shm beside the file it points to.
    path = path.resolve()
    try:
        fd = os.open(companion(path, "-shm"), os.O_RDONLY)
    except FileNotFoundError:
        return False  # the last connection to close removes it
    try:
        probe = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, _DMS_BYTE, 1, 0)
        found = fcntl.fcntl(fd, fcntl.F_GETLK, probe)
    finally:
        os.close(fd)
    held_as: int = struct.unpack(_FLOCK, found)[0]
    return held_as != fcntl.F_UNLCK


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused because another connection holds a lock."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def integrity_problems(conn: sqlite3.Connection) -> list[str]:
    """What PRAGMA integrity_check finds wrong (nothing: an empty list)."""
    rows = [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]
    return [] if rows == ["ok"] else rows


@dataclass(frozen=True)
class Contents:
    """What a Tally database file holds, for the operator to check at a glance."""

    revision: str | None
    tables: int
    rows: dict[str, int]

    def summary(self, names: tuple[str, ...] = ("projects", "orders", "customers")) -> str:
        counts = ", ".join(f"{self.rows[name]} {name}" for name in names if name in self.rows)
        return f"schema {self.revision or '(none)'}, {self.tables} tables: {counts}"


def contents(conn: sqlite3.Connection) -> Contents:
    """Its migration, how many tables it has, and the rows of each (a count reads every
    page of the table: about as long as the integrity check that comes with it)."""
    names = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    revision = None
    if VERSION_TABLE in names:
        row = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
        revision = None if row is None else str(row[0])
    tally_tables = [name for name in names if name != VERSION_TABLE]
    rows = {
        name: int(conn.execute(f"SELECT count(*) FROM {quote_identifier(name)}").fetchone()[0])
        for name in tally_tables
    }
    return Contents(revision=revision, tables=len(tally_tables), rows=rows)


def quote_identifier(name: str) -> str:
    """``name`` as a SQL identifier, whatever it holds: names come from files someone
    hands us (a backup), and a ``"`` in one must not end the quoting."""
    return '"' + name.replace('"', '""') + '"'


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(path: Path) -> None:
    """Makes a rename in ``path`` durable (some filesystems refuse: nothing more to do)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def remove_if_present(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
