"""One transaction per request: on a worker thread, or on the event loop for quick SQLite
work (a savepoint of the loop's batch of writes, all or nothing like a transaction of its
own), run again from the start when it lost a race or its batch was lost."""

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from tally.db.engine import BatchLost, WouldWait, is_busy
from tally.db.races import lost_race
from tally.errors import database_busy
from tally.web.runtime import Runtime

T = TypeVar("T")


# A transaction that lost a race (two upserts of one new source_id, a deadlock between
# two writers) is run again from the start: the second run sees the winner's rows.
_ATTEMPTS = 3


def _attempts(runtime: Runtime, once: Callable[[], T]) -> T:
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return once()
        except DBAPIError as exc:
            # SQLite: another process kept the write lock past the busy timeout.
            if runtime.db.is_sqlite and isinstance(exc, OperationalError) and is_busy(exc):
                raise database_busy() from None
            if attempt == _ATTEMPTS or not lost_race(exc):
                raise
    raise AssertionError("unreachable")


def _in_transaction(runtime: Runtime, work: Callable[[Connection], T], *, write: bool) -> T:
    with runtime.db.transaction(write=write) as conn:
        return work(conn)


def read_here(runtime: Runtime, work: Callable[[Connection], T]) -> T:
    """Run the quick read ``work`` on the calling thread (the event loop), as
    :func:`run_transaction` runs it when ``runtime.inline_quick_work`` (SQLite): nothing
    to await, so the request's busiest reads skip the coroutines around it."""
    return _attempts(runtime, lambda: runtime.db.quick_read(work))


async def run_transaction(
    runtime: Runtime, work: Callable[[Connection], T], *, write: bool, quick: bool = False
) -> T:
    """Run ``work`` in one transaction and return its result: on a worker thread, or with
    ``quick`` (work on one object by key, a few statements) on the event loop itself when
    the database is SQLite. There a write runs in a savepoint of the loop's batch of
    writes, and returns once the batch is committed (:mod:`tally.web.batches`)."""

    def call() -> T:
        return _attempts(runtime, lambda: _in_transaction(runtime, work, write=write))

    if quick and runtime.inline_quick_work:
        if not write:
            return read_here(runtime, work)
        for attempt in range(1, _ATTEMPTS + 1):
            # Run again, the request is isolated: it was undone once by another's failure
            # (tally.web.batches), or its batch was lost.
            try:
                joined = await _join_batch(runtime, work, isolated=attempt > 1)
            except BatchLost:
                # The batch it joined was lost as it joined, through no fault of its own
                # (the work the batch's other requests left for the commit failed).
                if attempt == _ATTEMPTS:
                    raise
                continue
            if joined is None:
                break  # waited out SQLite's busy timeout: queue on a thread
            result, committed = joined
            try:
                await committed
            except BatchLost:
                if attempt == _ATTEMPTS:
                    raise
                continue
            return result
    return await anyio.to_thread.run_sync(call, limiter=runtime.limiter)


async def _join_batch(
    runtime: Runtime, work: Callable[[Connection], T], *, isolated: bool = False
) -> "tuple[T, asyncio.Future[None]] | None":
    """``work`` run in the event loop's batch of writes (:mod:`tally.web.batches`), with
    the future of its commit; None when another writer held the database past SQLite's
    busy timeout.

    While another writer holds the database (a worker thread, the checkpointer, another
    process) writers on the event loop wait in line (:class:`tally.web.batches.Waiting`)
    instead of blocking the loop. Sending them to threads instead made the slow path slower
    (a thread waits up to 5 ms for the GIL after each statement): p99 rose from 0.1 s to
    0.65 s."""

    def once() -> "tuple[T, asyncio.Future[None]]":
        return _attempts(runtime, lambda: runtime.batches.run(work, isolated=isolated))

    waiting = runtime.write_waiting
    await _room(runtime)
    if not waiting.count:
        try:
            return once()
        except WouldWait:
            pass
    deadline = time.monotonic() + runtime.db.busy_seconds
    waiting.count += 1
    try:
        while True:
            await waiting.tick()
            await _room(runtime)
            try:
                joined = once()
            except WouldWait:
                if time.monotonic() > deadline:
                    return None
                continue
            waiting.got_in()
            return joined
    finally:
        waiting.count -= 1


async def _room(runtime: Runtime) -> None:
    """Until the open batch has room: a full one is committed first thing next turn."""
    while runtime.batches.full:
        await asyncio.sleep(0)
