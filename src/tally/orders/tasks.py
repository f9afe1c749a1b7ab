"""Background work on orders: the import (BEHAVIOR 17), run by the job runner.

Orders go in steps of a few hundred, each step one transaction that also records how many
orders are behind it: a runner that dies mid-import is followed by one that starts where the
last committed step ended, so every order is written once. Each order is written as the
create endpoint writes it (customers and products upserted, summaries kept), in a savepoint:
one that fails is listed with its reason and the others land.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from tally.async_actions import service as async_actions
from tally.db.locks import lock_number
from tally.db.prepared import Row
from tally.errors import TallyError
from tally.jobs.service import Handler, Step
from tally.orders import service
from tally.orders.schemas import OrderCreate
from tally.orders.service import IMPORT_KIND as IMPORT_KIND
from tally.orders.sessions import OrderSession

STEP_ORDERS = 250


def _run_import(step: Step) -> None:
    job = step.job
    project_id = job["project_id"]
    action_id = job["subject_id"]
    bodies: list[dict[str, Any]] = job["payload"]["orders"]
    state = dict(step.checkpoint or {"next": 0, "done": 0, "failed": []})
    while True:
        with step.db.transaction(write=True) as conn:
            now = step.clock()
            start = state["next"]
            end = min(start + STEP_ORDERS, len(bodies))
            for index in range(start, end):
                reason = _import_one(conn, project_id, bodies[index], now)
                if reason is None:
                    state["done"] += 1
                else:
                    source_id = bodies[index].get("source_id")
                    state["failed"].append({"source_id": source_id, "reason": reason})
            state["next"] = end
            if end >= len(bodies):
                async_actions.finish(
                    conn,
                    project_id=project_id,
                    action_id=action_id,
                    result=_result(state),
                    operation_status=_outcome(state),
                    now=now,
                )
                step.finish(conn)
                return
            async_actions.progress(
                conn,
                project_id=project_id,
                action_id=action_id,
                percent=end * 100 // len(bodies),
                now=now,
            )
            step.save(conn, state)


def _import_one(
    conn: Connection, project_id: str, raw: dict[str, Any], now: datetime
) -> str | None:
    """Write one order; None, or why it was not written (nothing of it is)."""
    try:
        body = OrderCreate.model_validate(raw)
    except ValidationError as exc:  # checked at the request; a later schema may be stricter
        return str(exc.errors()[0].get("msg", "invalid order"))[:500]
    savepoint = conn.begin_nested()
    try:
        _hold(conn, project_id, body)
        service.create(conn, project_id=project_id, body=body, now=now)
    except TallyError as exc:
        savepoint.rollback()
        return exc.details or exc.message
    savepoint.commit()
    return None


def _hold(conn: Connection, project_id: str, body: OrderCreate) -> None:
    """PostgreSQL: wait for the order's session (BEHAVIOR 13) as a request would hold it,
    so an import never interleaves with a redemption on the same order. Requests give up
    after their wait and never hold a session while waiting for another, so this cannot
    deadlock. SQLite writes one transaction at a time: nothing to wait for."""
    if conn.dialect.name == "sqlite":
        return
    session = OrderSession.of_payload(project_id, body)
    if session is None:
        return
    for name in [lock.name for lock in session.named()]:
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(:n)"), {"n": lock_number(project_id, name)}
        )
    for name in [lock.name for lock in session.found(conn)]:
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(:n)"), {"n": lock_number(project_id, name)}
        )


def _result(state: dict[str, Any]) -> dict[str, Any]:
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
