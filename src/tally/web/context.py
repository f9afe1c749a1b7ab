"""The request scope: the caller's project, then one transaction per request, committed only
when the service call returns without error, holding the order session it needs."""

from collections.abc import Callable
from typing import Annotated, TypeVar

import orjson
from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from tally.clock import utcnow
from tally.errors import UNAUTHORIZED
from tally.events import service as events
from tally.events.recorder import Recorder, Source, recording
from tally.idempotency import service as idempotency
from tally.metrics import registry as metrics
from tally.orders.sessions import OrderSession
from tally.web import ratelimits
from tally.web.errors import request_id_of
from tally.web.runtime import Runtime, runtime_of
from tally.web.sessions import run_in_session
from tally.web.transactions import read_here, run_transaction

__all__ = [
    "ProjectId",
    "Runtime",
    "respond",
    "respond_empty",
    "respond_with_status",
    "run",
    "runtime_of",
]

T = TypeVar("T")


async def current_project(request: Request) -> str:
    """The project of the request's X-App-Id / X-App-Token pair, or the spec's 401."""
    app_id = request.headers.get("x-app-id")
    app_token = request.headers.get("x-app-token")
    if not app_id or not app_token:
        raise UNAUTHORIZED
    runtime = runtime_of(request)
    project_id, limit = await runtime.caller(app_id, app_token)
    request.state.project_id = project_id
    if limit is not None:
        decision = runtime.rate_limits.check(project_id, limit)
        # Sent on every answer, the refusal included (tally.web.middleware adds them).
        request.state.extra_headers = ratelimits.headers(limit, decision)
        if not decision.allowed:
            raise ratelimits.too_many_requests(limit, decision)
    return project_id


ProjectId = Annotated[str, Depends(current_project)]


async def respond(
    request: Request,
    work: Callable[[Connection], object],
    *,
    write: bool,
    quick: bool = False,
    status_code: int = 200,
    session: OrderSession | None = None,
) -> Response:
    """Run ``work`` in one transaction and answer with its result as JSON.

    The response body is encoded before the transaction commits: a result that cannot be
    encoded rolls everything back instead of leaving a write the client was told failed.
    """
    if quick and not write and session is None:
        runtime = runtime_of(request)
        if runtime.inline_quick_work:
            # A read of one object on SQLite (a get by id): done right here, as run() would
            # do it, without the layers a write needs.
            return _answer(status_code, read_here(runtime, lambda conn: orjson.dumps(work(conn))))
    return await respond_with_status(
        request, lambda conn: (status_code, work(conn)), write=write, quick=quick, session=session
    )


async def respond_empty(
    request: Request, work: Callable[[Connection], object], *, session: OrderSession | None = None
) -> Response:
    """Run the write ``work`` in one transaction and answer 204 No Content."""

    def done(conn: Connection) -> tuple[int, object]:
        work(conn)
        return 204, None

    return await respond_with_status(request, done, write=True, session=session)


async def respond_with_status(
    request: Request,
    work: Callable[[Connection], tuple[int, object]],
    *,
    write: bool,
    quick: bool = False,
    session: OrderSession | None = None,
) -> Response:
    """:func:`respond` for work that picks its own status: a refused redemption is a 400
    whose failure record is committed all the same.

    A write sent with an ``Idempotency-Key`` header is done once: a retry gets the stored
    answer (with ``Idempotent-Replayed: true``), see :mod:`tally.idempotency.service`."""

    def encoded(conn: Connection) -> tuple[int, bytes]:
        status, result = work(conn)
        return status, b"" if status == 204 else orjson.dumps(result)

    key = request.headers.get("idempotency-key") if write else None
    if key is None:
        status, body = await run(request, encoded, write=write, quick=quick, session=session)
        return _answer(status, body)
    idempotency.check_key(key)
    project_id: str = request.state.project_id
    fingerprint = idempotency.fingerprint(
        request.method, request.url.path, request.url.query, await request.body()
    )
    answer = await run(
        request,
        lambda conn: idempotency.once(
            conn,
            project_id=project_id,
            key=key,
            fingerprint=fingerprint,
            now=utcnow(),
            work=encoded,
        ),
        write=write,
        quick=quick,
        session=session,
    )
    response = _answer(answer.status, answer.body)
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _answer(status: int, body: bytes) -> Response:
    if status == 204:
        return Response(status_code=204)
    return Response(body, status_code=status, media_type="application/json")


async def run(
    request: Request,
    work: Callable[[Connection], T],
    *,
    write: bool,
    quick: bool = False,
    session: OrderSession | None = None,
) -> T:
    """Run ``work`` in one transaction and return its result: on a worker thread, or with
    ``quick`` (work on one object by key, a few statements) on the event loop itself when
    the database is SQLite. With ``session``, the orders it names are this request's alone
    until the transaction has ended (BEHAVIOR 13)."""
    runtime = runtime_of(request)
    recorders: list[Recorder] = []
    if write:
        work = _recorded(request, work, recorders)
    if session is None:
        result = await run_transaction(runtime, work, write=write, quick=quick)
    else:
        result = await run_in_session(runtime, session, work, write=write, quick=quick)
    if recorders and recorders[-1].events:
        _count(recorders[-1])
        if runtime.deliverer is not None:
            # New events: this process's deliverer makes their deliveries now, not at its
            # poll.
            runtime.deliverer.wake()
    return result


# Event types counted in the metrics, once their transaction committed.
_COUNTED = {
    "customer.redemption.succeeded": metrics.redemptions.labels("SUCCESS"),
    "customer.redemption.failed": metrics.redemptions.labels("FAILURE"),
    "customer.redemption.rollback.succeeded": metrics.rollbacks.labels("SUCCESS"),
    "customer.redemption.rollback.failed": metrics.rollbacks.labels("FAILURE"),
}


def _count(recorder: Recorder) -> None:
    for event in recorder.events:
        counter = _COUNTED.get(event.type)
        if counter is not None:
            counter.inc()


def _recorded(
    request: Request, work: Callable[[Connection], T], recorders: list[Recorder]
) -> Callable[[Connection], T]:
    """``work`` with the events it records written at its end, in its transaction (a
    transaction run again after a lost race records afresh)."""
    source = Source(
        channel="API",
        app_id=request.headers.get("x-app-id"),
        group_id=request_id_of(request),
    )

    def recorded(conn: Connection) -> T:
        with recording(source) as recorder:
            recorders.append(recorder)
            result = work(conn)
            events.write(conn, recorder)
            return result

    return recorded
