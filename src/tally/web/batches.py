"""Group commit: the quick writes of one turn of the event loop (SQLite) share one
transaction, each request in a savepoint of its own, and are answered once it commits.

A commit writes every page its transaction changed to the WAL, two system calls a page. A
create changes about 33 pages, one or more in each B-tree it touches (the order, its
customer, 3 events, and their 15 indexes), and most are the same right-most pages the
creates before it changed: ids, sequence numbers and dates only grow. Committed one by one,
each create writes them all again, and the checkpoint copies them all again.

Each request stays all or nothing, and is answered only after the commit, so no client
hears of a write that could still be lost. A request runs without a savepoint of its own
(one costs 4-7% of a redemption or a create, see :meth:`Database.in_batch`): when it fails
after writing, the batch's whole transaction is rolled back, and each request of it that
had succeeded is run again from the start, as a request that lost a race is. So is each
request of a batch whose transaction is lost otherwise (its commit failed, or SQLite rolled
it back after an I/O error). A request run again is isolated, in a savepoint, and so is
every request that joins its batch after it: another's failure can undo it only once.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from tally.db.engine import BatchLost, Database
from tally.metrics import registry as metrics

T = TypeVar("T")

# The requests a batch takes; those that find it full wait a turn of the loop, behind its
# commit. A request is answered in the turn after its batch's commit, so a batch of every
# request the turn had (20-50 redemptions at 50 connections) made its first ones wait for
# all the others: redemption p99 128-215 ms uncapped, 101-109 ms with 8, and 5% more
# requests a second (wrk, 50 connections, 3 runs each; 4 lost 6% of the throughput).
MAX_REQUESTS = 8

logger = logging.getLogger("tally.db")


class _Batch:
    __slots__ = ("isolated", "kept", "members")

    def __init__(self, kept: Any) -> None:
        self.kept = kept
        # One future per request: one request's waiter cancelled leaves the others be.
        self.members: list[asyncio.Future[None]] = []
        # Whether requests joining now run in savepoints of their own (Batches.run).
        self.isolated = False


class Batches:
    """The event loop's open batch of writes, committed at the loop's next turn.

    Requests join it while the loop runs the turn that began it: those whose data arrived
    together. The commit is the first callback of the next turn, so a batch holds SQLite's
    write lock for one turn of the loop."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._open: _Batch | None = None
        # Batches committed and requests answered through them (for tests and diagnostics).
        self.commits = 0
        self.members = 0

    @property
    def full(self) -> bool:
        """Whether the open batch takes no more requests (:data:`MAX_REQUESTS`)."""
        batch = self._open
        return batch is not None and len(batch.members) >= MAX_REQUESTS

    def run(
        self, work: Callable[[Connection], T], *, isolated: bool = False
    ) -> tuple[T, "asyncio.Future[None]"]:
        """Run ``work`` in the open batch, begun here if there is none; with the future done
        once its writes are committed, or failed with :class:`BatchLost` (to be run again,
        ``isolated``). Raises :class:`tally.db.engine.WouldWait` (nothing done) when
        another writer holds the database, :class:`BatchLost` when the batch was lost as
        it joined (run again, ``isolated``), and whatever ``work`` raised (its writes
        undone, and unless it ran isolated, the batch's other writes too)."""
        batch = self._open
        if batch is None:
            batch = self._begin()
        if isolated:
            batch.isolated = True
        try:
            result = self._db.in_batch(batch.kept, work, isolated=batch.isolated)
        except BaseException:
            if self._db.batch_lost(batch.kept):
                self._end(batch, undone=not batch.isolated)
            raise
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        batch.members.append(done)
        return result, done

    def _begin(self) -> _Batch:
        batch = _Batch(self._db.begin_batch())
        self._open = batch
        asyncio.get_running_loop().call_soon(self._end, batch)
        return batch

    def _end(self, batch: _Batch, *, undone: bool = False) -> None:
        """Commit ``batch``; ``undone``: rolled back already, by a request that failed and
        ran without a savepoint (expected, unlike a lost transaction: not counted as lost,
        nor logged above debug)."""
        if self._open is not batch:
            return  # ended already: lost when one of its requests failed
        self._open = None
        try:
            self._db.end_batch(batch.kept, commit=True)
        except Exception as exc:
            if undone:
                logger.debug(
                    "a failed request undid a batch; its %d others run again", len(batch.members)
                )
            else:
                metrics.lost_write_batches.inc()
                if batch.members:
                    logger.warning(
                        "a batch of %d writes was lost and is run again: %s",
                        len(batch.members),
                        exc,
                    )
            for done in batch.members:
                if not done.done():
                    done.set_exception(BatchLost(str(exc)))
            return
        # Answered first: nothing after the commit may keep its requests waiting.
        for done in batch.members:
            if not done.done():
                done.set_result(None)
        self.commits += 1
        self.members += len(batch.members)
        metrics.write_batches.inc()
        metrics.batched_writes.inc(len(batch.members))

    def close(self) -> None:
        """Commit the open batch now, if there is one: at shutdown, before the write gate
        is needed by a thread the loop then waits for (the checkpointer's last round)."""
        if self._open is not None:
            self._end(self._open)


# How writers that found the database held wait: they retry together, from 0.5 ms after
# the first found it held, then every 1, 2, 4 ... up to every 10 ms while it stays held.
_RETRY_FIRST = 0.0005
_RETRY_MAX = 0.01


class Waiting:
    """Event-loop writers that found the database held (a worker thread, the checkpointer,
    another process): they retry together at each tick of one shared timer, in arrival
    order, so the first that gets in begins a batch the others join in the same turn.

    Retried one at a time instead, each behind the one before, they got in one per turn
    of the loop, a batch each, and under steady load the line never emptied: 32 concurrent
    creates in-process made batches of 1.3 requests (and slept 0.5 ms each in line), where
    retrying together makes batches of 8 or more."""

    def __init__(self) -> None:
        self.count = 0  # writers waiting, counted by the caller
        self.ticks = 0  # retries awaited so far (for tests and diagnostics)
        self._waiters: list[asyncio.Future[None]] = []
        self._delay = _RETRY_FIRST
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def tick(self) -> None:
        """Until the next retry of every waiting writer."""
        loop = self._loop = asyncio.get_running_loop()
        self.ticks += 1
        if not self._waiters:
            self._timer = loop.call_later(self._delay, self._fire)
            self._delay = min(self._delay * 2, _RETRY_MAX)
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        await waiter

    def got_in(self) -> None:
        """A waiting writer got in: the database is free again."""
        self._delay = _RETRY_FIRST

    def gate_given(self) -> None:
        """This process's write gate was given back (by any thread): the waiting writers
        retry at once. A checkpoint that held it (13 ms, mostly its two fsyncs) otherwise
        left them idle until their next poll, up to 10 ms later."""
        loop = self._loop
        if self.count and loop is not None:
            loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
