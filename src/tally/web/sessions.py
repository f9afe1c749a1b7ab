"""Running a request inside its order session (BEHAVIOR 13).

A request that finds an order taken waits on the event loop, holding no thread and no
connection, until ``TALLY_ORDER_SESSION_WAIT_MS`` has passed; then it fails with
``multiple_requests``. Requests of one process first queue in arrival order on the names
they gave the order (:class:`tally.web.queue.Queue`): the next in line gets it the moment
its holder is done. Then the holder takes the lock that keeps other processes out, polling
while another process holds it, and keeps it until its transaction has ended:

- PostgreSQL: transaction advisory locks, taken first thing in the request's transaction.
- SQLite: file locks, released after the transaction ends. The locks of the names the
  client gave are taken before it begins; those of the ids the database adds are tried
  first thing inside it. Waiting for one inside would hold the database's single write
  lock while waiting for an order whose holder is itself waiting for that write lock, so
  a lock found taken there ends the transaction (nothing written) and the wait happens
  outside.
"""

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Connection

from tally.db.locks import FileLocks, lock_number, try_advisory
from tally.errors import TallyError, multiple_requests
from tally.metrics import registry as metrics
from tally.orders.sessions import Lock, OrderSession
from tally.web.runtime import Runtime
from tally.web.transactions import run_transaction

T = TypeVar("T")

# Polling for a taken session: from 0.5 ms, doubling up to every 5 ms. A request on one
# order holds it for a few milliseconds, so the waiter seldom sleeps more than twice.
_POLL_FIRST = 0.0005
_POLL_MAX = 0.005


class RequestEnded(Exception):
    """The request a transaction belongs to has ended (cancelled) before the transaction
    took its locks: it is undone, and nobody hears of it."""


class SessionTaken(Exception):
    """Another request holds ``lock`` now."""

    def __init__(self, lock: Lock) -> None:
        super().__init__(lock.name)
        self.lock = lock


async def run_in_session(
    runtime: Runtime,
    session: OrderSession,
    work: Callable[[Connection], T],
    *,
    write: bool,
    quick: bool,
) -> T:
    deadline = time.monotonic() + runtime.session_wait
    queued: list[str] = []
    waited = [False]
    try:
        for lock in session.named():
            # One line per project and name: another project's order of the same
            # source_id is another order (as for the file and advisory locks, whose
            # numbers are of the project and the name).
            name = f"{session.project_id}\x00{lock.name}"
            waited[0] = waited[0] or runtime.order_queue.held(name)
            if not await runtime.order_queue.take(name, deadline - time.monotonic()):
                raise multiple_requests(lock.resource_id, lock.resource_type)
            queued.append(name)
        return await _across_processes(
            runtime, session, work, deadline, waited, write=write, quick=quick
        )
    finally:
        for name in queued:
            runtime.order_queue.give(name)
        if waited[0]:
            metrics.session_waits.inc()


async def _across_processes(
    runtime: Runtime,
    session: OrderSession,
    work: Callable[[Connection], T],
    deadline: float,
    waited: list[bool],
    *,
    write: bool,
    quick: bool,
) -> T:
    """``waited[0]`` is set when another process held the order."""
    delay = _POLL_FIRST
    while True:
        try:
            if runtime.db.file_locks is not None:
                return await _holding_files(
                    runtime, runtime.db.file_locks, session, work, write=write, quick=quick
                )
            return await run_transaction(
                runtime, _holding_advisory(session, work), write=write, quick=quick
            )
        except TallyError as error:
            if error.key != "database_busy":
                raise
            # SQLite's write lock, not the order, was held too long: still the order
            # session's answer, as the client expects from a request on an order (the
            # operator sees the cause in the database_busy count).
            metrics.database_busy.inc()
            first = _first_named(session)
            raise multiple_requests(*first) from None
        except SessionTaken as taken:
            waited[0] = True
            left = deadline - time.monotonic()
            if left <= 0:
                raise multiple_requests(taken.lock.resource_id, taken.lock.resource_type) from None
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, _POLL_MAX)


def _first_named(session: OrderSession) -> tuple[str, str]:
    for ref in (*session.refs, *session.order_ids, *session.source_ids):
        return ref, "order"
    return session.redemption_ids[0], "redemption"


def _numbers(session: OrderSession, locks: list[Lock]) -> list[int]:
    return [lock_number(session.project_id, lock.name) for lock in locks]


def _holding_advisory(
    session: OrderSession, work: Callable[[Connection], T]
) -> Callable[[Connection], T]:
    def run(conn: Connection) -> T:
        for locks in (session.named(), None):
            locks = session.found(conn) if locks is None else locks
            numbers = _numbers(session, locks)
            taken = try_advisory(conn, numbers)
            if taken is not None:
                raise SessionTaken(locks[numbers.index(taken)])
        return work(conn)

    return run


async def _holding_files(
    runtime: Runtime,
    files: FileLocks,
    session: OrderSession,
    work: Callable[[Connection], T],
    *,
    write: bool,
    quick: bool,
) -> T:
    held: list[int] = []
    # Set once the locks are given back. A request cancelled while its transaction waits
    # on a worker thread (uvicorn's forced shutdown) gives them back at once, and the
    # thread goes on: it must not take a found lock then (nothing would give it back), nor
    # write without the named ones. The guard orders its taking against the giving back.
    guard = threading.Lock()
    released = False

    def take(locks: list[Lock]) -> None:
        if not locks:
            return  # most often: a new order, whose source_id names nothing stored yet
        # A transaction run again (it lost a race, or found the write lock taken) takes
        # the locks it found again: those it holds already are its own, not taken.
        pairs = zip(_numbers(session, locks), locks, strict=True)
        new = [(number, lock) for number, lock in pairs if number not in held]
        numbers = [number for number, _ in new]
        with guard:
            if released:
                raise RequestEnded
            taken = files.try_acquire(numbers)
            if taken is not None:
                raise SessionTaken(new[numbers.index(taken)][1])
            held.extend(numbers)

    def found_then_work(conn: Connection) -> T:
        # The ids the named orders have are read in the request's own transaction, not in
        # one of their own before it (a read transaction per request). Only tried, never
        # waited for, so no lock is waited for while SQLite's write lock is held: a found
        # lock held elsewhere rolls the transaction back, and the request waits outside.
        take(session.found(conn))
        if released:
            # A thread that only got going after its request ended, its order new (nothing
            # found to take): its named locks are gone, so it does nothing.
            raise RequestEnded
        return work(conn)

    try:
        take(session.named())
        return await run_transaction(runtime, found_then_work, write=write, quick=quick)
    finally:
        with guard:
            released = True
            files.release(held)
