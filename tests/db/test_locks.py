"""FileLocks (SQLite's order-session locks) when the kernel fails midway: a set of locks is
taken whole or not at all, and a release frees every lock it can. The failure is the
kernel's (fcntl raising EIO for one byte); another FileLocks on the same file stands for
another process and shows which bytes are really held."""

import errno
import fcntl
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tally.db.locks import FileLocks


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "tally.db-sessions")


@pytest.fixture
def other(path: str) -> Iterator[FileLocks]:
    locks = FileLocks(path)
    try:
        yield locks
    finally:
        locks.close()


def _failing(kind: int, number: int) -> Callable[..., Any]:
    """fcntl.fcntl, except that ``kind`` (F_WRLCK or F_UNLCK) on byte ``number`` fails."""
    real = fcntl.fcntl

    def fake(fd: int, cmd: int, arg: Any = 0) -> Any:
        if cmd == fcntl.F_OFD_SETLK and isinstance(arg, bytes):
            lock_kind, _whence, start, _length, _pid = struct.unpack("hhqqi4x", arg)
            if (lock_kind, start) == (kind, number):
                raise OSError(errno.EIO, "I/O error")
        return real(fd, cmd, arg)

    return fake


def test_a_failure_midway_leaves_none_of_the_set_held(
    path: str, other: FileLocks, monkeypatch: pytest.MonkeyPatch
) -> None:
    locks = FileLocks(path)
    try:
        monkeypatch.setattr(fcntl, "fcntl", _failing(fcntl.F_WRLCK, 12))
        with pytest.raises(OSError):
            locks.try_acquire([10, 11, 12])
        monkeypatch.undo()
        assert not locks.holds(10) and not locks.holds(11)
        assert other.try_acquire([10, 11, 12]) is None
    finally:
        locks.close()


def test_a_failed_release_still_releases_the_others(
    path: str, other: FileLocks, monkeypatch: pytest.MonkeyPatch
) -> None:
    locks = FileLocks(path)
    try:
        assert locks.try_acquire([20, 21, 22]) is None
        monkeypatch.setattr(fcntl, "fcntl", _failing(fcntl.F_UNLCK, 20))
        with pytest.raises(OSError):
            locks.release([20, 21, 22])
        monkeypatch.undo()
        assert not locks.holds(21) and not locks.holds(22)
        assert other.try_acquire([21, 22]) is None
    finally:
        locks.close()
