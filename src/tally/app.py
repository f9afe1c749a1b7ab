"""create_app(): routers, middleware, error handlers, lifespan."""

import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from tally import __version__
from tally.async_actions.endpoints import router as async_actions_router
from tally.campaigns.endpoints import router as campaigns_router
from tally.config import Settings, get_settings
from tally.customers.endpoints import router as customers_router
from tally.dashboard import secret as dashboard_secret
from tally.dashboard.endpoints import router as dashboard_router
from tally.db.engine import Database
from tally.events.endpoints import router as events_router
from tally.exports import service as exports
from tally.exports.endpoints import download_router
from tally.exports.endpoints import router as exports_router
from tally.health.endpoints import router as health_router
from tally.jobs.runner import Runner
from tally.metrics import registry as metrics
from tally.metrics.endpoints import router as metrics_router
from tally.metrics.exposition import MULTIPROC_ENV
from tally.orders.endpoints import router as orders_router
from tally.products.endpoints import router as products_router
from tally.promotions.endpoints import router as promotions_router
from tally.redemptions.endpoints import legacy_router as legacy_redemptions_router
from tally.redemptions.endpoints import router as redemptions_router
from tally.tasks import HANDLERS
from tally.validation_rules.endpoints import assignments_router as rule_assignments_router
from tally.validation_rules.endpoints import router as validation_rules_router
from tally.validations.endpoints import legacy_router as legacy_validations_router
from tally.validations.endpoints import router as validations_router
from tally.vouchers.endpoints import router as vouchers_router
from tally.web import errors, heap, openapi
from tally.web.context import Runtime
from tally.web.middleware import JSONFormatter, RequestMiddleware
from tally.web.ratelimits import limit_of
from tally.web.responses import JSON
from tally.webhooks.endpoints import router as webhooks_router
from tally.webhooks.tasks import Deliverer


def configure_logging(level: str) -> None:
    # Our JSON lines never print the caller, thread or process: the logging HOWTO's
    # "Optimization" switches spare every record a stack walk and three lookups.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our middleware writes one access line per request with its request id.
    logging.getLogger("uvicorn.access").disabled = True


def serve_app() -> FastAPI:
    """The factory `tally serve` hands to uvicorn: every worker process configures its own
    JSON logging (workers are spawned, not forked, so nothing is inherited)."""
    settings = get_settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    heap.settle()
    return app


def deliverer_for(db: Database, settings: Settings) -> Deliverer:
    return Deliverer(
        db,
        allow_private=settings.webhooks_allow_private,
        timeout_seconds=settings.webhooks_timeout_seconds,
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=settings.job_poll_ms / 1000,
        concurrency=settings.webhooks_concurrency,
        retry_scale=settings.webhooks_retry_scale,
    )


# Routes are matched in this order, one after another: the busiest paths come first
# (matching reached 8% of a validation's CPU when it came after every other router).
ROUTERS = (
    orders_router,
    validations_router,
    redemptions_router,
    customers_router,
    products_router,
    vouchers_router,
    campaigns_router,
    promotions_router,
    validation_rules_router,
    rule_assignments_router,
    async_actions_router,
    exports_router,
    download_router,
    events_router,
    webhooks_router,
    dashboard_router,
    legacy_validations_router,
    legacy_redemptions_router,
    health_router,
    metrics_router,
)


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """``router``'s routes as the app's own, not ``app.include_router(router)``.

    FastAPI keeps an included router as one branch of the app's routes, matched twice on
    every request (once to pick the branch, again to pick its route) with bookkeeping at
    each step: about a third of what a get by id cost beyond the no-database baseline,
    whose routes are the app's own. Each of Tally's routes already carries its router's
    prefix, tags, route class and schema flag, so the app serves and documents the same
    routes either way (tests/test_routes.py)."""
    if router.dependencies or router.on_startup or router.on_shutdown:
        raise ValueError("a router with its own dependencies or events must be included")
    app.router.routes.extend(router.routes)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics_dir = os.environ.get(MULTIPROC_ENV)
        if metrics_dir:
            # A worker starting may be replacing one that died.
            metrics.forget_dead_processes(metrics_dir)
        db = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            background_checkpoints=True,
            busy_seconds=settings.sqlite_busy_timeout_ms / 1000,
            mmap_bytes=settings.sqlite_mmap_mb * 1024 * 1024,
        )
        runtime = Runtime(
            db,
            session_wait_ms=settings.order_session_wait_ms,
            exports_dir=exports.files_dir(settings.database_url, settings.exports_dir),
            public_url=settings.public_url,
            webhooks_allow_private=settings.webhooks_allow_private,
            rate_limit=limit_of(settings.rate_limit_per_second, settings.rate_limit_burst),
            metrics_token=settings.metrics_token,
            dashboard_secret=dashboard_secret.resolve(
                settings.database_url,
                settings.dashboard_secret.get_secret_value()
                if settings.dashboard_secret is not None
                else None,
            ),
        )
        app.state.runtime = runtime
        if settings.jobs_in_server:
            runtime.jobs = Runner(
                db,
                HANDLERS,
                lease_seconds=settings.job_lease_seconds,
                poll_seconds=settings.job_poll_ms / 1000,
            )
            runtime.jobs.start()
            runtime.deliverer = deliverer_for(db, settings)
            runtime.deliverer.start()
        try:
            yield
        finally:
            runtime.batches.close()
            if runtime.jobs is not None:
                runtime.jobs.stop_soon()
            if runtime.deliverer is not None:
                runtime.deliverer.stop()
            if runtime.jobs is not None:
                runtime.jobs.stop()
            db.dispose()

    app = FastAPI(
        title="Tally",
        version=__version__,
        description="Self-hosted orders and promotions engine speaking Voucherify's API.",
        lifespan=lifespan,
        default_response_class=JSON,
    )
    app.add_middleware(
        RequestMiddleware,
        max_body_bytes=settings.max_body_bytes,
        bulk_body_bytes=settings.bulk_body_bytes,
    )
    errors.install(app)
    openapi.install(app)
    for router in ROUTERS:
        add_routes(app, router)

    return app
