"""The request scope: the caller's project, then one transaction per request, committed only
when the service call returns without error."""

import asyncio
import time
from collections.abc import Callable
from typing import Annotated, TypeVar

import anyio
import anyio.to_thread
import orjson
from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from tally.db.engine import Database, WouldWait
from tally.errors import UNAUTHORIZED
from tally.projects import service as projects

T = TypeVar("T")

# How long a verified key pair is trusted without asking the database again.
_AUTH_TTL_SECONDS = 30.0


class Runtime:
    """What the app holds for its lifetime: the database, its write gate and the key cache."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._keys: dict[tuple[str, str], tuple[str, float]] = {}
        # SQLite work on one object is CPU in this process and never waits: a read never
        # does (WAL), a write is only tried here when the write lock is free. It costs
        # less than the hop to a worker thread and back (about 170 us), so it runs on the
        # event loop. Lists stay on threads: run inline, their few milliseconds each
        # starved other connections (list p99 2.6 s instead of 0.3 s under load).
        self.inline_quick_work = db.is_sqlite
        # Held by the event-loop writer that polls for the lock; the others queue behind it.
        self.loop_writers = asyncio.Lock()
        # Threads that may run database work at once. SQLite work is CPU in this process:
        # more threads only trade the GIL back and forth (measured: get-by-id p99 halved and
        # throughput +20% with 2 threads instead of anyio's 40 at 32 connections).
        # PostgreSQL work waits on the network, so it gets a thread per pooled connection.
        self.limiter = anyio.CapacityLimiter(
            2 if db.engine.dialect.name == "sqlite" else max(2, db.engine.pool.size())  # type: ignore[attr-defined]
        )

    def cached_project(self, app_id: str, app_token: str) -> str | None:
        hit = self._keys.get((app_id, app_token))
        if hit and hit[1] > time.monotonic():
            return hit[0]
        return None

    def authenticate(self, app_id: str | None, app_token: str | None) -> str:
        with self.db.transaction(write=False) as conn:
            project_id = projects.authenticate(conn, app_id=app_id, app_token=app_token)
        assert app_id and app_token
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[(app_id, app_token)] = (project_id, time.monotonic() + _AUTH_TTL_SECONDS)
        return project_id


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def current_project(request: Request) -> str:
    """The project of the request's X-App-Id / X-App-Token pair, or the spec's 401."""
    app_id = request.headers.get("x-app-id")
    app_token = request.headers.get("x-app-token")
    if not app_id or not app_token:
        raise UNAUTHORIZED
    runtime = runtime_of(request)
    project_id = runtime.cached_project(app_id, app_token)
    if project_id is None:
        project_id = await anyio.to_thread.run_sync(
            runtime.authenticate, app_id, app_token, limiter=runtime.limiter
        )
    return project_id


ProjectId = Annotated[str, Depends(current_project)]


# How an event-loop writer waits for the write lock: polls from 0.5 ms up to every 10 ms,
# then after 30 s (SQLite's busy timeout) queues on a thread like any other writer.
_POLL_FIRST = 0.0005
_POLL_MAX = 0.01
_POLL_SECONDS = 30.0

# A transaction that lost a race (two upserts of one new source_id, a deadlock between
# two writers) is run again from the start: the second run sees the winner's rows.
_ATTEMPTS = 3


def _lost_race(exc: DBAPIError) -> bool:
    if isinstance(exc, IntegrityError):
        text = str(exc.orig).lower()
        return "unique" in text or "duplicate key" in text
    code = getattr(exc.orig, "sqlstate", None)
    return code in ("40001", "40P01")


async def respond(
    request: Request,
    work: Callable[[Connection], object],
    *,
    write: bool,
    quick: bool = False,
    status_code: int = 200,
) -> Response:
    """Run ``work`` in one transaction and answer with its result as JSON.

    The response body is encoded before the transaction commits: a result that cannot be
    encoded rolls everything back instead of leaving a write the client was told failed.
    """
    body = await run(request, lambda conn: orjson.dumps(work(conn)), write=write, quick=quick)
    return Response(body, status_code=status_code, media_type="application/json")


async def respond_with_status(
    request: Request,
    work: Callable[[Connection], tuple[int, object]],
    *,
    write: bool,
    quick: bool = False,
) -> Response:
    """:func:`respond` for work that picks its own status: a refused redemption is a 400
    whose failure record is committed all the same."""

    def encoded(conn: Connection) -> tuple[int, bytes]:
        status, result = work(conn)
        return status, orjson.dumps(result)

    status, body = await run(request, encoded, write=write, quick=quick)
    return Response(body, status_code=status, media_type="application/json")


async def run(
    request: Request, work: Callable[[Connection], T], *, write: bool, quick: bool = False
) -> T:
    """Run ``work`` in one transaction and return its result: on a worker thread, or with
    ``quick`` (work on one object by key, a few statements) on the event loop itself when
    the database is SQLite."""
    runtime = runtime_of(request)

    def call(inline: bool = False) -> T:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                transaction = runtime.db.quick_transaction if inline else runtime.db.transaction
                with transaction(write=write) as conn:
                    return work(conn)
            except DBAPIError as exc:
                if attempt == _ATTEMPTS or not _lost_race(exc):
                    raise
        raise AssertionError("unreachable")

    if quick and runtime.inline_quick_work:
        if not write:
            return call(inline=True)
        # Writers on the event loop take turns in arrival order; while another writer
        # holds the database (a worker thread, the checkpointer, another process) they
        # poll instead of blocking the loop. Sending them to threads instead made the slow
        # path slower (a thread waits up to 5 ms for the GIL after each statement): p99
        # rose from 0.1 s to 0.65 s.
        if not runtime.loop_writers.locked():
            try:
                return call(inline=True)
            except WouldWait:
                pass
        async with runtime.loop_writers:
            delay = _POLL_FIRST
            deadline = time.monotonic() + _POLL_SECONDS
            while True:
                await asyncio.sleep(delay)
                try:
                    return call(inline=True)
                except WouldWait:
                    if time.monotonic() > deadline:
                        break
                    delay = min(delay * 2, _POLL_MAX)
    return await anyio.to_thread.run_sync(call, limiter=runtime.limiter)
