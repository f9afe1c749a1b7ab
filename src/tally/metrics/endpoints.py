"""GET /metrics in the Prometheus text format."""

import hmac

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response

from tally.clock import utcnow
from tally.errors import TallyError
from tally.metrics import exposition, repository
from tally.web.context import runtime_of

router = APIRouter(tags=["Operations"])

_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/metrics", operation_id="metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Counters of this server (requests by route and status, latency, redemptions,
    rollbacks, order-session waits and refusals, rate-limit refusals, webhook tries) and
    the database's queues (jobs by kind and status with the oldest one's age, webhook
    deliveries pending and retrying)."""
    runtime = runtime_of(request)
    token = runtime.metrics_token
    if token is not None:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            raise TallyError(401, "unauthorized", "Unauthorized", "A metrics token is required")

    def read() -> bytes:
        with runtime.db.transaction(write=False) as conn:
            queue = repository.job_queue(conn)
            failed = repository.failed_jobs(conn)
            deliveries = repository.deliveries(conn)
        return exposition.render(queue, failed, deliveries, utcnow())

    body = await anyio.to_thread.run_sync(read, limiter=runtime.limiter)
    return Response(body, media_type=_CONTENT_TYPE)
