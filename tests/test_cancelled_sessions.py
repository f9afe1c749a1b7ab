"""A request cancelled while its transaction waits on a worker thread (uvicorn cancels the
requests still running when a forced shutdown ends them): the thread goes on after the
request has given its order's locks back, and must neither take a lock nobody would give
back nor write without the locks (SQLite's file locks, tally.web.sessions)."""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Connection

from support.inprocess import open_app_client
from support.sessions import is_held
from tally.db.engine import Database
from tally.orders.sessions import OrderSession
from tally.web.runtime import Runtime
from tally.web.sessions import run_in_session


@pytest.fixture
def stored_order(sqlite_url: str) -> Iterator[tuple[str, str]]:
    """(project id, order id) of an order stored under source_id "held"."""
    with open_app_client(sqlite_url) as client:
        order = client.post("/v1/orders", json={"source_id": "held", "amount": 100}).json()
        yield client.project.project_id, order["id"]


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


@pytest.mark.parametrize("source_id", ["held", "new"])
def test_a_cancelled_request_s_thread_takes_no_lock_and_does_nothing(
    sqlite_url: str, stored_order: tuple[str, str], tmp_path: Path, source_id: str
) -> None:
    """Of the stored order "held", the thread would find the order's id and take its lock;
    of a new order, it finds nothing to take, and would write with no lock held."""
    project_id, order_id = stored_order
    db = Database(sqlite_url, pool_size=2)
    runtime = Runtime(db, exports_dir=tmp_path, session_wait_ms=0)
    session = OrderSession(project_id, source_ids=(source_id,))
    ran: list[str] = []

    def work(conn: Connection) -> str:
        ran.append("work")
        return "done"

    # Another writer of this process holds the write gate, so the request's transaction
    # waits for it on its worker thread (quick=False: not in the event loop's batch).
    holding = threading.Event()
    let_go = threading.Event()

    def hold_the_gate() -> None:
        with db.transaction(write=True):
            holding.set()
            let_go.wait(10)

    holder = threading.Thread(target=hold_the_gate)
    holder.start()
    try:
        assert holding.wait(10)

        async def cancel_while_waiting() -> None:
            request = asyncio.create_task(
                run_in_session(runtime, session, work, write=True, quick=False)
            )
            while db.queued_writers == 0:
                await asyncio.sleep(0.001)
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request

        asyncio.run(cancel_while_waiting())
        # The request has ended and given back the source_id's lock; its thread still waits.
        assert not is_held(sqlite_url, project_id, f"s:{source_id}")
    finally:
        let_go.set()
        holder.join(10)
    # The thread gets the gate; once it has given it back, its transaction is over.
    _until(lambda: db.queued_writers == 0)
    with db.transaction(write=True):
        pass

    try:
        assert not is_held(sqlite_url, project_id, f"o:{order_id}")
        assert ran == []  # its locks were given back before its transaction took them

        # The order is free in this process too: the next request on it runs at once.
        async def next_request() -> str:
            return await run_in_session(runtime, session, work, write=True, quick=False)

        assert asyncio.run(next_request()) == "done"
    finally:
        db.dispose()
