"""Backups of the embedded SQLite database, taken while it serves, and restores of them.

The order sessions' file beside the database (``tally.db-sessions``, tally.db.locks) is
neither backed up nor restored: it is empty, and only carries byte-range locks that the
kernel holds for live processes. Nothing in it outlives them, so there is nothing to keep.
"""

import contextlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tally.db import sqlite_files as files
from tally.db.migrate import upgrade
from tally.db.refused import POSTGRES_BACKUPS, Refused
from tally.db.schema_version import head_revision, is_known

# 4,096 pages (16 MB at SQLite's default page size) a step: progress to report on a large
# database without thousands of calls on a small one.
PAGES_PER_STEP = 4096

# A restored database where there was none: its owner writes it, the group may read it.
NEW_DATABASE_MODE = 0o640

Progress = Callable[[int, int], None]  # (pages copied, pages in all)


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    contents: files.Contents


@dataclass(frozen=True)
class Restored:
    path: Path
    # The database that was replaced, kept under another name (None: there was none).
    previous: Path | None
    restored_revision: str
    contents: files.Contents


def _database(url: str) -> Path:
    path = files.database_path(url)
    if path is None:
        raise Refused(POSTGRES_BACKUPS)
    return path


def _is_the_database(path: Path, database: Path) -> bool:
    """Whether ``path`` is the database or one of its companion files, by name or inode."""
    names = {database, *(files.companion(database, suffix) for suffix in files.COMPANIONS)}
    if path.resolve() in {name.resolve() for name in names}:
        return True
    try:
        return path.exists() and database.exists() and path.samefile(database)
    except OSError:
        return False


@contextmanager
def _temporary_beside(path: Path, purpose: str) -> Iterator[Path]:
    """A new empty file in ``path``'s directory (so the final rename stays on one
    filesystem and is atomic), removed unless the caller renamed it away."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".{purpose}", dir=path.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            files.remove_if_present(files.companion(temporary, suffix))


def backup(
    url: str,
    destination: Path,
    *,
    pages_per_step: int = PAGES_PER_STEP,
    progress: Progress | None = None,
) -> Backup:
    """Copy the SQLite database of ``url`` to ``destination`` while servers keep writing,
    check the copy, then rename it into place (an existing file there is replaced only by
    a complete, checked backup)."""
    database = _database(url)
    # Through a symbolic link, as cp writes: the backup lands in the file the link names,
    # and the link stays.
    destination = destination.resolve()
    if not files.is_sqlite_file(database):
        raise Refused(f"no SQLite database at {database}")
    if _is_the_database(destination, database):
        raise Refused(f"{destination} is the database itself: choose another file")
    if not destination.parent.is_dir():
        raise Refused(f"no directory {destination.parent}")
    with _temporary_beside(destination, "partial") as temporary:
        _copy_online(database, temporary, pages_per_step, progress)
        checked = _checked(temporary)
        if checked.revision is None:
            raise Refused(f"{database} is not a Tally database (it has no migration version)")
        files.fsync_file(temporary)
        os.replace(temporary, destination)
    files.fsync_directory(destination.parent)
    return Backup(path=destination, size=destination.stat().st_size, contents=checked)


def _copy_online(
    database: Path, target: Path, pages_per_step: int, progress: Progress | None
) -> None:
    source = sqlite3.connect(database, timeout=30, isolation_level=None)
    try:
        wal = source.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        if wal:
            # One read transaction across all the steps. A WAL reader never blocks writers,
            # so servers keep writing, and the copy is the snapshot this read began with.
            # Without it, each step would start a new read, and any commit between two
            # steps would start the whole backup over: under steady writes, forever.
            source.execute("BEGIN")
            source.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        # A database in rollback mode (not one Tally wrote) is copied in one step, so
        # writers wait for it rather than restart it.
        pages = pages_per_step if wal else -1
        destination = sqlite3.connect(target, isolation_level=None)
        try:

            def report(_status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)

            source.backup(destination, pages=pages, progress=report, sleep=0)
            # A single file: the backup needs no -wal beside it to be whole.
            destination.execute("PRAGMA journal_mode=DELETE").fetchone()
        finally:
            destination.close()
        if wal:
            source.execute("COMMIT")
    finally:
        source.close()


def _checked(path: Path) -> files.Contents:
    """The contents of a copy once SQLite's integrity check passes on every page."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        problems = files.integrity_problems(conn)
        if problems:
            raise Refused(f"the copy fails its integrity check: {'; '.join(problems[:5])}")
        return files.contents(conn)
    finally:
        conn.close()


def restore(url: str, backup_file: Path) -> Restored:
    """Replace the SQLite database of ``url`` with ``backup_file``, then migrate it when
    the backup is older than this code. Refuses while any process has the database open,
    and never leaves a half-restored database: the backup is copied and checked beside the
    database first, and takes its place in one rename."""
    # The file a symbolic link names, not the link: the restored file, the kept one and
    # the temporary copy all go beside the real file (where SQLite keeps its -wal too), on
    # the volume that holds it, and the link stays. Replacing the link instead would leave
    # the data in the link's directory, perhaps a container's throwaway one.
    database = _database(url).resolve()
    backup_file = backup_file.absolute()
    if not files.is_sqlite_file(backup_file):
        raise Refused(f"{backup_file} is not a SQLite database")
    if _is_the_database(backup_file, database):
        raise Refused(f"{backup_file} is the database itself")
    if not database.parent.is_dir():
        raise Refused(f"no directory {database.parent}")
    _refuse_in_use(database)
    with _temporary_beside(database, "restoring") as temporary:
        _copy_backup(backup_file, temporary)
        contents = _checked(temporary)
        revision = contents.revision
        if revision is None or "projects" not in contents.rows:
            raise Refused(
                f"{backup_file} is not a Tally database (no migration version or projects)"
            )
        if not is_known(revision):
            raise Refused(
                f"{backup_file} is at migration {revision}, which this Tally does not know "
                f"(newest: {head_revision()}): restore it with the Tally version that wrote it"
            )
        _take_on_owner(database, temporary)
        files.fsync_file(temporary)
        previous = _swap(database, temporary)
    if revision != head_revision():
        # Servers migrate SQLite themselves when they start; doing it here shows a
        # migration that fails while the operator is at the console, with the replaced
        # database still kept beside it.
        upgrade(url)
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        after = files.contents(conn)
    finally:
        conn.close()
    return Restored(path=database, previous=previous, restored_revision=revision, contents=after)


def _refuse_in_use(database: Path) -> None:
    # Before this process opens the database (see opened_by_another_process).
    if files.opened_by_another_process(database):
        raise Refused(
            f"{database} is open in another process (a tally serve or tally worker?): "
            "stop every process using it, then restore"
        )


def _copy_backup(backup_file: Path, target: Path) -> None:
    """The backup through SQLite (not a file copy): a backup left in WAL mode with its own
    -wal file is read whole, and the copy is a single file in rollback mode."""
    source = files.open_read_only(backup_file)
    try:
        destination = sqlite3.connect(target, isolation_level=None)
        try:
            source.backup(destination)
            destination.execute("PRAGMA journal_mode=DELETE").fetchone()
        finally:
            destination.close()
    finally:
        source.close()


def _take_on_owner(database: Path, temporary: Path) -> None:
    """The restored file keeps the replaced one's mode and owner: a restore run as root
    must not leave a database the server's user cannot write. With no file to replace it
    is readable by the owner's group too (a temporary file is made 0600): whoever restores
    into a new place gives it to the server's user (docs/operations.md)."""
    if not database.exists():
        os.chmod(temporary, NEW_DATABASE_MODE)
        return
    shutil.copymode(database, temporary)
    stat = database.stat()
    if os.geteuid() == 0:
        os.chown(temporary, stat.st_uid, stat.st_gid)


def _keep(database: Path) -> Path:
    """A second name for ``database`` (a hard link: nothing is copied), new each time."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(1000):
        suffix = f"-{attempt}" if attempt else ""
        previous = database.with_name(f"{database.name}.before-restore-{stamp}{suffix}")
        try:
            os.link(database, previous)
        except FileExistsError:
            continue
        return previous
    raise Refused(f"too many {database.name}.before-restore-{stamp}* files: remove some")


def _swap(database: Path, replacement: Path) -> Path | None:
    """Put ``replacement`` in ``database``'s place, keeping the replaced file under a new
    name. The replaced database's companions are dealt with before the rename, never
    after: a WAL file is not tied to its database file, so one left beside the restored
    file would be applied to it; and from the rename on, a server may open the restored
    file and make its own -wal and -shm, which must stay."""
    if not database.exists():
        for suffix in ("-wal", "-shm", "-journal"):
            files.remove_if_present(files.companion(database, suffix))
        os.replace(replacement, database)
        files.fsync_directory(database.parent)
        return None
    guard = _folded_and_locked(database)
    try:
        previous = _keep(database)
        _set_aside_companions(database, previous)
        os.replace(replacement, database)
        files.fsync_directory(database.parent)
    finally:
        if guard is not None:
            guard.close()
    return previous


def _folded_and_locked(database: Path) -> sqlite3.Connection | None:
    """A connection holding ``database``'s exclusive lock once its -wal is folded into it
    (which deletes the -wal and -shm): no process can open it, and make a new -wal, until
    the swap is done and the connection closed. Only possible with no other connection
    open anywhere. None when SQLite cannot fold it: the damage a restore is for, where
    there is no lock to take through it (no process had it open: checked before the copy).
    """
    if not files.is_sqlite_file(database):
        # Not even opened: SQLite would apply the -wal to whatever the file now holds or,
        # to an empty file, delete it. Both are set aside as they are.
        return None
    guard = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        guard.execute("PRAGMA journal_mode=DELETE").fetchone()
        guard.execute("BEGIN EXCLUSIVE")
    except sqlite3.DatabaseError as exc:
        # Closed now, before anything is moved: a connection that opened the -wal deletes
        # it by name when it closes (after folding what it can into the file), and after
        # the rename that name is the restored database's.
        guard.close()
        if files.is_busy(exc):
            raise Refused(
                f"{database} is in use ({exc}): stop every process using it, then restore"
            ) from None
        return None
    return guard


def _set_aside_companions(database: Path, previous: Path) -> None:
    """Move the replaced database's -wal and -journal (what folding it into one file could
    not: it is damaged) beside the kept copy, under the names SQLite looks for there, so
    that opening the kept copy, once repaired, applies them; the -shm (an index of the
    -wal, rebuilt from it) goes."""
    for suffix in ("-wal", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.rename(files.companion(database, suffix), files.companion(previous, suffix))
    files.remove_if_present(files.companion(database, "-shm"))
