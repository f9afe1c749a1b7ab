"""HTTP routes of /v1/webhooks (a Tally extension: Voucherify sets webhooks up in its
dashboard): the project's webhook endpoints and their delivery logs."""

from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import Response

from tally.clock import utcnow
from tally.web.bodies import OrjsonRoute
from tally.web.context import ProjectId, respond, respond_empty
from tally.web.params import Limit, Page
from tally.web.runtime import runtime_of
from tally.webhooks import presenter, service
from tally.webhooks.schemas import (
    DeliveriesListOut,
    WebhookCreate,
    WebhookOut,
    WebhooksListOut,
    WebhookUpdate,
)

router = APIRouter(prefix="/v1/webhooks", tags=["Webhooks"], route_class=OrjsonRoute)

WebhookId = Annotated[str, Path(min_length=1, max_length=64)]


async def _check_url(request: Request, url: str) -> None:
    """Resolve and check the URL on a worker thread, before any transaction: a slow name
    server must not hold the database."""
    allow_private = runtime_of(request).webhooks_allow_private
    await anyio.to_thread.run_sync(
        lambda: service.check_url(url, allow_private=allow_private),
        limiter=runtime_of(request).limiter,
    )


@router.post("", responses={200: {"model": WebhookOut}}, operation_id="create-webhook")
async def create_webhook(request: Request, project_id: ProjectId, body: WebhookCreate) -> Response:
    """Add an endpoint: the events of the types it names are sent to its URL from now on.
    The answer carries its signing `secret`, shown this once."""
    runtime = runtime_of(request)
    await _check_url(request, body.url)
    response = await respond(
        request,
        lambda conn: presenter.webhook_json(
            service.create(
                conn,
                project_id=project_id,
                url=body.url,
                events=body.events,
                now=utcnow(),
            ),
            with_secret=True,
        ),
        write=True,
    )
    if runtime.deliverer is not None:
        runtime.deliverer.endpoints_changed()
    return response


@router.get("", responses={200: {"model": WebhooksListOut}}, operation_id="list-webhooks")
async def list_webhooks(
    request: Request, project_id: ProjectId, limit: Limit = 10, page: Page = 1
) -> Response:
    return await respond(
        request,
        lambda conn: presenter.webhooks_page(
            *service.list_page(conn, project_id=project_id, limit=limit, page=page)
        ),
        write=False,
    )


@router.get("/{webhookId}", responses={200: {"model": WebhookOut}}, operation_id="get-webhook")
async def get_webhook(request: Request, project_id: ProjectId, webhookId: WebhookId) -> Response:
    return await respond(
        request,
        lambda conn: presenter.webhook_json(
            service.get(conn, project_id=project_id, webhook_id=webhookId)
        ),
        write=False,
    )


@router.put("/{webhookId}", responses={200: {"model": WebhookOut}}, operation_id="update-webhook")
async def update_webhook(
    request: Request,
    project_id: ProjectId,
    webhookId: WebhookId,
    body: Annotated[WebhookUpdate, Body()],
) -> Response:
    """Change the URL or the events; `active: true` turns an endpoint that was disabled
    for failing back on (its failed deliveries stay failed: GET /v1/events has them)."""
    runtime = runtime_of(request)
    if body.url is not None:
        await _check_url(request, body.url)
    response = await respond(
        request,
        lambda conn: presenter.webhook_json(
            service.update(
                conn,
                project_id=project_id,
                webhook_id=webhookId,
                url=body.url,
                events=body.events,
                active=body.active,
                now=utcnow(),
            )
        ),
        write=True,
    )
    if runtime.deliverer is not None:
        runtime.deliverer.endpoints_changed()
    return response


@router.delete("/{webhookId}", status_code=204, operation_id="delete-webhook")
async def delete_webhook(request: Request, project_id: ProjectId, webhookId: WebhookId) -> Response:
    """Remove an endpoint and its delivery log; nothing more is sent to it."""
    return await respond_empty(
        request,
        lambda conn: service.delete(conn, project_id=project_id, webhook_id=webhookId),
    )


@router.get(
    "/{webhookId}/deliveries",
    responses={200: {"model": DeliveriesListOut}},
    operation_id="list-webhook-deliveries",
)
async def list_deliveries(
    request: Request,
    project_id: ProjectId,
    webhookId: WebhookId,
    limit: Limit = 10,
    page: Page = 1,
    status: Literal["PENDING", "SUCCEEDED", "FAILED"] | None = None,
) -> Response:
    """The endpoint's deliveries, newest first, each with every try (status code or error,
    duration)."""
    return await respond(
        request,
        lambda conn: presenter.deliveries_page(
            *service.deliveries(
                conn,
                project_id=project_id,
                webhook_id=webhookId,
                limit=limit,
                page=page,
                status=status,
            )
        ),
        write=False,
    )
