"""Async actions: what the API shows of the jobs requests scheduled (BEHAVIOR 19)."""

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tally import ids
from tally.async_actions import repository
from tally.async_actions.tables import ASYNC_ACTION_ID_PREFIX
from tally.db.prepared import Row
from tally.errors import not_found


def create(
    conn: Connection, *, project_id: str, type_: str, request_id: str | None, now: datetime
) -> str:
    action_id = ids.new_hex_id(ASYNC_ACTION_ID_PREFIX)
    repository.insert(
        conn,
        {
            "id": action_id,
            "project_id": project_id,
            "type": type_,
            "status": "ENQUEUED",
            "operation_status": "UNKNOWN",
            "request_id": request_id,
            "progress": 0,
            "processing_time": None,
            "result": None,
            "created_at": now,
            "updated_at": None,
        },
    )
    return action_id


def get(conn: Connection, *, project_id: str, action_id: str) -> Row:
    row = repository.get(conn, project_id, action_id)
    if row is None:
        raise not_found("async_action", action_id)
    return row


def list_page(
    conn: Connection, *, project_id: str, limit: int, before: datetime | None
) -> tuple[list[Row], bool]:
    return repository.page(conn, project_id, limit=limit, before=before)


def progress(
    conn: Connection, *, project_id: str, action_id: str, percent: int, now: datetime
) -> None:
    repository.update(
        conn,
        project_id,
        action_id,
        {"status": "IN_PROGRESS", "progress": max(0, min(99, percent)), "updated_at": now},
    )


def finish(
    conn: Connection,
    *,
    project_id: str,
    action_id: str,
    result: dict[str, Any],
    operation_status: str,
    now: datetime,
) -> None:
    """DONE, with its result; processing time from creation to now (BEHAVIOR 19.1)."""
    row = get(conn, project_id=project_id, action_id=action_id)
    repository.update(
        conn,
        project_id,
        action_id,
        {
            "status": "DONE",
            "operation_status": operation_status,
            "progress": 100,
            "result": result,
            "processing_time": _millis(now - row["created_at"]),
            "updated_at": now,
        },
    )


def fail(conn: Connection, *, project_id: str, action_id: str, why: str, now: datetime) -> None:
    row = get(conn, project_id=project_id, action_id=action_id)
    repository.update(
        conn,
        project_id,
        action_id,
        {
            "status": "FAILED",
            "operation_status": "FAILED",
            "result": {"message": why},
            "processing_time": _millis(now - row["created_at"]),
            "updated_at": now,
        },
    )


def _millis(delta: Any) -> int:
    return max(0, int(delta.total_seconds() * 1000))
