"""Background work on orders: the import (BEHAVIOR 17), run by the job runner and by
``tally orders import``.

Orders go in steps of a few hundred, each step one transaction that also records how many
orders are behind it: a runner that dies mid-import is followed by one that starts where the
last committed step ended, so every order is written once. Each order is written as the
create endpoint writes it (customers and products upserted, summaries kept); one that fails
is listed with its reason and the others land. A step of new orders is written in batches
(tally.orders.batch); others order by order (a step with a failing order is written again
with a savepoint per order, see :func:`import_step`).
"""

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from tally.async_actions import service as async_actions
from tally.clock import utcnow
from tally.common.schemas import checked_already
from tally.db.engine import Database, is_busy
from tally.db.locks import lock_number, wait_advisory
from tally.db.prepared import Row
from tally.db.races import lost_race
from tally.db.savepoints import savepoint
from tally.errors import TallyError
from tally.jobs.service import Handler, Step
from tally.orders import batch, service
from tally.orders.schemas import OrderCreate
from tally.orders.service import IMPORT_KIND as IMPORT_KIND
from tally.orders.sessions import OrderSession
from tally.projects import repository as counters

STEP_ORDERS = 250
STEP_SECONDS = 0.5
# A batched step writes all of its orders at once (no clock between them): this many lines
# at most, a few hundred milliseconds.
STEP_LINES = 5000


def new_state() -> dict[str, Any]:
    """How far an import got: the next order, how many landed, which failed and why."""
    return {"next": 0, "done": 0, "failed": []}


class OrderRefused(Exception):
    """An order of a step written without savepoints failed: the step is rolled back and
    written again with a savepoint per order (see :func:`import_step`)."""


def import_step(
    conn: Connection,
    project_id: str,
    bodies: list[dict[str, Any]],
    state: dict[str, Any],
    now: datetime,
    *,
    trusted: bool = False,
    careful: bool = False,
) -> dict[str, Any]:
    """Write the orders after ``state`` in the caller's transaction, until STEP_ORDERS
    orders or STEP_SECONDS, whichever comes first; the state after them (``state`` itself
    is left as it was, for a step that is rolled back). Used by the job and by
    ``tally orders import``. ``trusted``: the bodies are a queued import's, checked whole
    by its request and written by Tally: they are not walked for storability again.

    A step of new orders is written in a few statements for all of its orders
    (tally.orders.batch; its failing orders listed, the others written). Any other step
    goes order by order, first without a savepoint per order; an order that fails then
    raises :class:`OrderRefused`; the caller rolls the step back and writes it again
    ``careful``, each order in its own savepoint, the failing one listed."""
    state = {"next": state["next"], "done": state["done"], "failed": list(state["failed"])}
    start = state["next"]
    chunk = bodies[start : start + STEP_ORDERS]
    checked = [_checked(raw, trusted=trusted) for raw in chunk]
    valid = [body for body in checked if isinstance(body, OrderCreate)]
    _hold(conn, project_id, valid)
    size = _batch_size(checked)
    batched = [body for body in checked[:size] if isinstance(body, OrderCreate)]
    written = batch.write(conn, project_id, batched, now)
    if written is not None:
        outcomes = iter(written)
        for raw, body in zip(chunk[:size], checked[:size], strict=True):
            _count(state, raw, body, body if isinstance(body, str) else next(outcomes))
        state["next"] = start + size
        return state
    # A step holds SQLite's write lock, and on PostgreSQL the rows and sessions of its
    # orders, until it commits; and a job's step must end well inside its lease.
    began = time.monotonic()
    index = start
    for raw, body in zip(chunk, checked, strict=True):
        reason = body if isinstance(body, str) else _write(conn, project_id, body, now, careful)
        _count(state, raw, body, reason)
        index += 1
        if time.monotonic() - began > STEP_SECONDS:
            break
    state["next"] = index
    return state


def _batch_size(checked: list[OrderCreate | str]) -> int:
    """How many of the step's orders go in its batch: up to STEP_LINES lines (at least one
    order), so a step of big orders holds its locks no longer than one of small orders."""
    lines = 0
    for index, body in enumerate(checked):
        if isinstance(body, OrderCreate):
            lines += max(len(body.items or []), 1)
        if lines > STEP_LINES and index > 0:
            return index
    return len(checked)


def _count(
    state: dict[str, Any], raw: dict[str, Any], body: OrderCreate | str, reason: str | None
) -> None:
    if reason is None:
        state["done"] += 1
        return
    failure = {"reason": reason}
    # The order's source_id as validated ("" is none): a queued import holds its orders as
    # sent (tally.orders.service.schedule_import).
    source_id = body.source_id if isinstance(body, OrderCreate) else raw.get("source_id")
    if source_id is not None:
        failure = {"source_id": source_id, **failure}
    state["failed"].append(failure)


def _checked(raw: dict[str, Any], *, trusted: bool) -> OrderCreate | str:
    """The order, or why it is not one."""
    try:
        if trusted:
            with checked_already():
                return OrderCreate.model_validate(raw)
        return OrderCreate.model_validate(raw)
    except ValidationError as exc:  # checked at the request; a later schema may be stricter
        return str(exc.errors()[0].get("msg", "invalid order"))[:500]


def _write(
    conn: Connection, project_id: str, body: OrderCreate, now: datetime, careful: bool
) -> str | None:
    """Write one order; None, or why it was not written (nothing of it is)."""
    if not careful:
        try:
            service.create(conn, project_id=project_id, body=body, now=now)
        except TallyError:
            raise OrderRefused from None
        return None
    counted = counters.pending(conn)
    try:
        with savepoint(conn):
            service.create(conn, project_id=project_id, body=body, now=now)
    except TallyError as exc:
        counters.restore(conn, counted)  # what the order counted went with it
        return exc.details or exc.message
    return None


def write_step(
    db: Database,
    project_id: str,
    bodies: list[dict[str, Any]],
    state: dict[str, Any],
    *,
    clock: Callable[[], datetime],
    trusted: bool,
    careful: bool,
    around: Callable[[Connection, datetime], None] = lambda conn, now: None,
    after: Callable[[Connection, dict[str, Any], datetime], None] = lambda conn, st, now: None,
) -> tuple[dict[str, Any], bool]:
    """One step in its own transaction: ``around`` runs first in it, ``after`` last (a
    job's progress and checkpoint commit with the orders). The state after the step, and
    whether it had to be written carefully: the fast attempt is rolled back at the first
    order that fails and the step is written again, a savepoint per order (the caller
    stays careful from then on: a job whose orders fail would otherwise do each step
    twice)."""
    while True:
        try:
            with db.transaction(write=True) as conn:
                now = clock()
                around(conn, now)
                done = import_step(
                    conn, project_id, bodies, state, now, trusted=trusted, careful=careful
                )
                after(conn, done, now)
            return done, careful
        except OrderRefused:
            careful = True


# tally orders import: how long a step waits for a lock a request or another import holds,
# and how many times a step that lost a race (a deadlock, that wait, a busy SQLite) is
# written again before the command gives up.
CLI_LOCK_TIMEOUT_MS = 10_000
CLI_TRIES = 5


def import_all(
    db: Database,
    project_id: str,
    bodies: list[dict[str, Any]],
    *,
    progress: Callable[[int], None] = lambda count: None,
) -> dict[str, Any]:
    """Import ``bodies`` here and now, step by step, as the job would (``tally orders
    import``): the result the job's async action would show. ``progress`` gets the number
    of orders each committed step went through."""

    def around(conn: Connection, now: datetime) -> None:
        if conn.dialect.name != "sqlite":
            conn.execute(sa.text(f"SET LOCAL lock_timeout = {CLI_LOCK_TIMEOUT_MS}"))

    state, careful = new_state(), False
    while state["next"] < len(bodies):
        for attempt in range(CLI_TRIES):
            try:
                done, careful = write_step(
                    db,
                    project_id,
                    bodies,
                    state,
                    clock=utcnow,
                    trusted=False,
                    careful=careful,
                    around=around,
                )
                break
            except DBAPIError as exc:
                if not (lost_race(exc) or (db.is_sqlite and is_busy(exc))):
                    raise
                if attempt == CLI_TRIES - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        progress(done["next"] - state["next"])
        state = done
    return result_of(state)


def _run_import(step: Step) -> None:
    job = step.job
    project_id = job["project_id"]
    action_id = job["subject_id"]
    bodies: list[dict[str, Any]] = job["payload"]["orders"]
    state = dict(step.checkpoint or new_state())
    careful = bool(state["failed"])

    def around(conn: Connection, now: datetime) -> None:
        _bound_waits(conn, step)
        async_actions.progress(
            conn,
            project_id=project_id,
            action_id=action_id,
            percent=state["next"] * 100 // max(len(bodies), 1),
            now=now,
        )

    def after(conn: Connection, done: dict[str, Any], now: datetime) -> None:
        if done["next"] >= len(bodies):
            async_actions.finish(
                conn,
                project_id=project_id,
                action_id=action_id,
                result=result_of(done),
                operation_status=_outcome(done),
                now=now,
            )
            step.finish(conn)
        else:
            step.save(conn, done)

    while True:
        state, careful = write_step(
            step.db,
            project_id,
            bodies,
            state,
            clock=step.clock,
            trusted=True,
            careful=careful,
            around=around,
            after=after,
        )
        if state["next"] >= len(bodies):
            return
        step.yield_if_stopping()


def _bound_waits(conn: Connection, step: Step) -> None:
    """PostgreSQL: a lock the step waits for longer than a third of the lease fails the step
    (it is tried again from its checkpoint) instead of letting the lease run out under it."""
    if conn.dialect.name == "sqlite":
        return
    millis = max(100, int(step.lease.total_seconds() * 1000 / 3))
    conn.execute(sa.text(f"SET LOCAL lock_timeout = {millis}"))


def _hold(conn: Connection, project_id: str, bodies: list[OrderCreate]) -> None:
    """PostgreSQL: wait for the sessions (BEHAVIOR 13) of the step's orders, as requests
    would hold them, so an import never interleaves with a redemption on the same order:
    the names first, then the ids they find, each set in one statement. A request that
    waits for a row the step holds while holding one of these sessions would close a
    cycle: PostgreSQL ends one side (a request is run again; a step is tried again from
    its checkpoint), and the step's lock_timeout bounds any other wait. SQLite writes one
    transaction at a time: nothing to wait for."""
    if conn.dialect.name == "sqlite" or not bodies:
        return
    session = OrderSession(
        project_id,
        order_ids=tuple(sorted({b.id for b in bodies if b.id is not None})),
        source_ids=tuple(sorted({b.source_id for b in bodies if b.source_id is not None})),
    )
    wait_advisory(conn, [lock_number(project_id, lock.name) for lock in session.named()])
    found = sorted(lock_number(project_id, lock.name) for lock in session.found(conn))
    wait_advisory(conn, found)


def result_of(state: dict[str, Any]) -> dict[str, Any]:
    done, failed = state["done"], state["failed"]
    message = f"{done} order(s) imported successfully"
    message += f", {len(failed)} failed." if failed else "."
    return {
        "message": message,
        "failed": failed,
        "done_count": done,
        "failed_count": len(failed),
    }


def _outcome(state: dict[str, Any]) -> str:
    if not state["failed"]:
        return "SUCCESS"
    return "FAILED" if state["done"] == 0 else "UNKNOWN"


def _import_failed(conn: Connection, job: Row, why: str, now: datetime) -> None:
    async_actions.fail(
        conn, project_id=job["project_id"], action_id=job["subject_id"], why=why, now=now
    )


IMPORT = Handler(run=_run_import, failed=_import_failed)
