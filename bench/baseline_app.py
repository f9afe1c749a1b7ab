"""The no-database baselines: Tally's HTTP stack with the database taken out.

Same FastAPI app shape as ``tally.app.create_app``: ``RequestMiddleware`` (request ids, body
limit, content-type check, one JSON access-log line per request), ``tally.web.errors``
handlers, ``JSON`` (orjson) responses, and Tally's own ``ProjectId`` dependency
(``tally.web.context.current_project``) reading X-App-Id / X-App-Token and finding the pair in
the runtime's key cache. Routes:

- ``POST /v1/orders`` (B-echo): the body parsed as Tally parses it (orjson,
  ``tally.web.bodies``) and validated into ``OrderCreate`` (declared as Tally's
  create-order endpoint declares it), returned as ``model_dump(mode="json",
  exclude_unset=True)``.
- ``GET /v1/orders/{orderId}`` (B-get): a fixed order, serialised per request. It is what
  Tally's presenter prints for a row the real service wrote for the benchmark's create body,
  so it has the size and shape of Tally's get-order response.

What differs from Tally, on purpose: no thread-pool hop (``tally.web.context.run``), no
transaction, no statements, no presenter call. A key pair's check (the first request, then ahead of
the end of each 30 s of trust, as in Tally) is made against the one pair configured from the
environment instead of the projects table. ``TALLY_BENCH_APP_ID`` / ``TALLY_BENCH_APP_TOKEN``
name that pair.

    python -m bench.baseline_app --port 8001
"""

from __future__ import annotations

import argparse
import hmac
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, Request

from tally.config import get_settings
from tally.db.base import metadata
from tally.db.engine import Database
from tally.errors import UNAUTHORIZED
from tally.orders import presenter
from tally.orders import service as orders_service
from tally.orders.schemas import OrderCreate
from tally.projects.service import create_project
from tally.web import errors, heap
from tally.web.bodies import OrjsonRoute
from tally.web.context import ProjectId, Runtime
from tally.web.middleware import RequestMiddleware
from tally.web.responses import JSON

# The body parameter exactly as Tally's create-order endpoint declares it
# (tally.orders.endpoints.CreateBody: an empty body is allowed and means "nothing to set").
CreateBody = Annotated[OrderCreate | None, Body()]

APP_ID_ENV = "TALLY_BENCH_APP_ID"
APP_TOKEN_ENV = "TALLY_BENCH_APP_TOKEN"


class BaselineRuntime(Runtime):
    """Tally's Runtime (so ``current_project``'s cached lookup, one check a key pair at a
    time, is the very same code) whose checks are answered from memory rather than the
    projects table."""

    def __init__(self, app_id: str, app_token: str) -> None:
        # Runtime wants a Database; its engine is created but never connected, so the file
        # is never opened.
        never_opened = os.path.join(tempfile.gettempdir(), "tally-baseline-never-opened.db")
        super().__init__(
            Database(f"sqlite:///{never_opened}", pool_size=1),
            exports_dir=Path(tempfile.gettempdir()),
        )
        self._app_id = app_id
        self._app_token = app_token

    def authenticate(self, app_id: str | None, app_token: str | None) -> tuple[str, None]:
        if not (
            app_id
            and app_token
            and hmac.compare_digest(app_id, self._app_id)
            and hmac.compare_digest(app_token, self._app_token)
        ):
            raise UNAUTHORIZED
        # No rate limit, as on the embedded default.
        return "proj_baseline", None


def fixed_order() -> dict[str, Any]:
    """Tally's JSON for the benchmark's order body, written by the real service into a
    scratch database once at startup (never touched again)."""
    from bench.seed import order_body

    with tempfile.TemporaryDirectory(prefix="tally-baseline-") as tmp:
        db = Database(f"sqlite:///{tmp}/fixed.db", pool_size=1)
        try:
            metadata.create_all(db.engine)
            with db.transaction(write=True) as conn:
                project_id = create_project(conn, name="baseline").project_id
                body = OrderCreate.model_validate(order_body("fixed-000001-0000001"))
                row = orders_service.create(
                    conn, project_id=project_id, body=body, now=datetime.now(UTC)
                )
                return presenter.order_json(row)
        finally:
            db.dispose()


def create_app() -> FastAPI:
    settings = get_settings()
    app_id = os.environ.get(APP_ID_ENV, "bench-app-id")
    app_token = os.environ.get(APP_TOKEN_ENV, "bench-app-token")
    order = fixed_order()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = BaselineRuntime(app_id, app_token)
        app.state.runtime = runtime
        try:
            yield
        finally:
            runtime.db.dispose()

    app = FastAPI(title="Tally baselines", lifespan=lifespan, default_response_class=JSON)
    # Bodies parsed as Tally's /v1 routes parse them (orjson, tally.web.bodies).
    app.router.route_class = OrjsonRoute
    app.add_middleware(RequestMiddleware, max_body_bytes=settings.max_body_bytes)
    errors.install(app)

    @app.post("/v1/orders", responses={200: {"model": dict[str, Any]}})
    async def echo_order(request: Request, project_id: ProjectId, body: CreateBody = None) -> JSON:
        """B-echo: validate into the request model, return what was sent."""
        payload = body or OrderCreate()
        return JSON(payload.model_dump(mode="json", exclude_unset=True))

    @app.get("/v1/orders/{orderId}")
    async def fixed_get(request: Request, project_id: ProjectId, orderId: str) -> JSON:
        """B-get: a fixed order of the size of Tally's."""
        return JSON(order)

    @app.get("/health")
    def health() -> JSON:
        return JSON({"status": "ok"})

    return app


def serve_app() -> FastAPI:
    """The factory uvicorn runs, settled as ``tally.app.serve_app`` settles Tally's."""
    app = create_app()
    heap.settle()
    return app


def main(argv: list[str] | None = None) -> None:
    """Serve like ``tally serve``: the same logging set-up and uvicorn options."""
    import uvicorn

    from tally.app import configure_logging

    parser = argparse.ArgumentParser(description="Serve the no-database baselines.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    configure_logging(get_settings().log_level)
    uvicorn.run(
        "bench.baseline_app:serve_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=1,
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
