"""Probes for process managers and load balancers: liveness and readiness."""

import sqlalchemy as sa
from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError

from tally.health import service
from tally.web.context import runtime_of
from tally.web.responses import JSON

router = APIRouter(tags=["Operations"])


@router.get("/health", operation_id="health")
def health(request: Request) -> JSON:
    """Liveness: 200 when the database answers."""
    with runtime_of(request).db.transaction(write=False) as conn:
        conn.execute(sa.text("SELECT 1"))
    return JSON({"status": "ok"})


@router.get("/health/ready", operation_id="health-ready")
def ready(request: Request) -> JSON:
    """Readiness: 200 when the database answers and its migrations are this release's;
    503 otherwise, with the reason (never a stack trace or the database's address)."""
    runtime = runtime_of(request)
    try:
        with runtime.db.transaction(write=False) as conn:
            problem = service.migration_problem(conn)
    except SQLAlchemyError:
        return JSON({"status": "unavailable", "reason": "database unreachable"}, status_code=503)
    if problem is not None:
        return JSON({"status": "unavailable", "reason": problem}, status_code=503)
    return JSON({"status": "ok"})
