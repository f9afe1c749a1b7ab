"""Named locks that exclude across processes and die with their holder (BEHAVIOR 13.4).

A name becomes a 62-bit number. On PostgreSQL the number is a transaction advisory lock:
it ends with the transaction, whatever ends it (commit, rollback, a lost connection, a
killed process). On SQLite it is a one-byte open-file-description lock on a file next to
the database: the kernel drops it when the descriptor closes, and a killed process closes
every descriptor it had. Neither can stay set after its holder is gone.

Both only ever *try*: a caller that finds a lock taken waits elsewhere (on the event loop,
holding neither a thread nor a connection) and tries again.
"""

import contextlib
import errno
import fcntl
import hashlib
import os
import struct
import threading
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_MASK = (1 << 62) - 1


def lock_number(project_id: str, name: str) -> int:
    """The number of lock ``name`` in ``project_id``: two projects never share a lock."""
    digest = hashlib.blake2b(f"{project_id}\x00{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & _MASK


def wait_advisory(conn: Connection, numbers: Sequence[int]) -> None:
    """Take every lock in ``numbers`` for the rest of ``conn``'s transaction, waiting for
    each (for background work; requests use :func:`try_advisory` and give up)."""
    if len(numbers) == 1:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:n)"), {"n": numbers[0]})
    elif numbers:
        # One round trip: the function scan yields the array in its order, and each lock
        # is taken (waited for) as its row is produced.
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(n) FROM unnest(CAST(:ns AS bigint[])) AS n"),
            {"ns": list(numbers)},
        )


def try_advisory(conn: Connection, numbers: Sequence[int]) -> int | None:
    """Take every lock in ``numbers`` for the rest of ``conn``'s transaction; the first that
    another transaction holds, or None when all are taken. Locks taken before a refusal
    stay held until the transaction ends (the caller ends it at once)."""
    for number in numbers:
        taken = conn.execute(
            sa.text("SELECT pg_try_advisory_xact_lock(:n)"), {"n": number}
        ).scalar_one()
        if not taken:
            return number
    return None


# struct flock on Linux: l_type, l_whence, l_start, l_len, l_pid (0 for OFD locks), padding.
_FLOCK = "hhqqi4x"


def _flock(kind: int, number: int) -> bytes:
    """The one byte at offset ``number`` (SEEK_SET), for ``kind`` (F_WRLCK or F_UNLCK)."""
    return struct.pack(_FLOCK, kind, 0, number, 1, 0)


class FileLocks:
    """Exclusive locks of one process on the lock file of one SQLite database.

    Open-file-description locks, unlike classic POSIX record locks, belong to the
    descriptor, not the process: closing some other descriptor of the file cannot drop them.
    Threads of this process share the descriptor, so a set of held numbers keeps them apart.
    """

    def __init__(self, path: str | None) -> None:
        self._held: set[int] = set()
        self._mutex = threading.Lock()
        # An in-memory database lives in one process: the set alone is enough.
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if path else None

    def try_acquire(self, numbers: Sequence[int]) -> int | None:
        """Take all of ``numbers`` or none: the first taken elsewhere, or None. An
        unexpected error midway (from the kernel) is raised with none of them held."""
        taken: list[int] = []
        refused: int | None = None
        with self._mutex:
            try:
                for number in numbers:
                    if number in self._held or not self._lock_file(number):
                        refused = number
                        break
                    self._held.add(number)
                    taken.append(number)
            except BaseException:
                # The caller never learns which were taken, so it could never release them.
                with contextlib.suppress(OSError):
                    self._unlock_all(taken)
                raise
            if refused is not None:
                self._unlock_all(taken)
        return refused

    def release(self, numbers: Sequence[int]) -> None:
        with self._mutex:
            self._unlock_all([number for number in numbers if number in self._held])

    def _unlock_all(self, numbers: Sequence[int]) -> None:
        """Release every one of ``numbers``, even after one fails: a lock left held would
        keep its order out of reach until this process ends. The first failure is raised
        once all have been tried."""
        failed: OSError | None = None
        for number in numbers:
            try:
                self._unlock(number)
            except OSError as exc:
                failed = failed or exc
        if failed is not None:
            raise failed

    def holds(self, number: int) -> bool:
        """Whether this process holds ``number`` (for tests and diagnostics)."""
        with self._mutex:
            return number in self._held

    def _lock_file(self, number: int) -> bool:
        if self._fd is None:
            return True
        try:
            fcntl.fcntl(self._fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_WRLCK, number))
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def _unlock(self, number: int) -> None:
        self._held.discard(number)
        if self._fd is not None:
            fcntl.fcntl(self._fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_UNLCK, number))

    def close(self) -> None:
        with self._mutex:
            self._held.clear()
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def lock_file_path(sqlite_path: str | None) -> str | None:
    """Where the locks of a SQLite database file live: beside it, like its -wal and -shm."""
    if sqlite_path in (None, "", ":memory:"):
        return None
    return f"{sqlite_path}-sessions"
