"""HTTP routes of /v1/orders: parse, call one service function, shape the response."""

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response

from tally.clock import utcnow
from tally.errors import invalid_payload
from tally.events import recorder
from tally.exports.endpoints import schedule as schedule_export
from tally.exports.schemas import ExportOut, OrdersExportCreate
from tally.orders import presenter, service
from tally.orders.schemas import (
    MAX_IMPORT,
    ImportOut,
    OrderCreate,
    OrderOut,
    OrdersListOut,
    OrderSort,
    OrderUpdate,
)
from tally.orders.sessions import OrderSession
from tally.web.bodies import OrjsonRoute
from tally.web.context import ProjectId, respond
from tally.web.errors import request_id_of
from tally.web.params import Limit, Page
from tally.web.runtime import runtime_of

router = APIRouter(prefix="/v1/orders", tags=["Orders"], route_class=OrjsonRoute)

# An SDK call with no arguments sends an empty body: it means "nothing to set".
CreateBody = Annotated[OrderCreate | None, Body()]
UpdateBody = Annotated[OrderUpdate | None, Body()]


def _printed(order: Mapping[str, Any]) -> dict[str, Any]:
    """The response to a write of ``order``: the JSON its events show too."""
    printed = presenter.order_json(order)
    recorder.order_printed(order, printed)
    return printed


@router.post("", responses={200: {"model": OrderOut}}, operation_id="create-order")
async def create_order(
    request: Request, project_id: ProjectId, body: CreateBody = None
) -> Response:
    """Create an order, or update the one its `id` or `source_id` names (upsert)."""
    payload = body or OrderCreate()
    return await respond(
        request,
        lambda conn: _printed(
            service.create(conn, project_id=project_id, body=payload, now=utcnow())
        ),
        write=True,
        quick=True,
        session=OrderSession.of_payload(project_id, payload),
    )


@router.post("/import", responses={200: {"model": ImportOut}}, operation_id="import-orders")
async def import_orders(
    request: Request,
    project_id: ProjectId,
    body: Annotated[list[OrderCreate], Body(max_length=MAX_IMPORT)],
) -> Response:
    """Import up to 2,000 orders in the background: answered at once with the async action
    that reports how it went (BEHAVIOR 17). A project's imports run one at a time, in order."""
    if not body:
        raise invalid_payload("Property . should have at least 1 item")
    sent = await request.json()  # as parsed for ``body``: not read again
    response = await respond(
        request,
        lambda conn: {
            "async_action_id": service.schedule_import(
                conn,
                project_id=project_id,
                bodies=body,
                sent=sent,
                request_id=request_id_of(request),
                now=utcnow(),
            )
        },
        write=True,
    )
    jobs = runtime_of(request).jobs
    if jobs is not None:
        jobs.wake()
    return response


@router.post("/export", responses={200: {"model": ExportOut}}, operation_id="create-order-export")
async def export_orders(
    request: Request,
    project_id: ProjectId,
    body: Annotated[OrdersExportCreate | None, Body()] = None,
) -> Response:
    """Schedule a CSV export of orders (the same as POST /v1/exports with
    exported_object "order")."""
    parameters = body.parameters if body is not None else None
    return await schedule_export(request, project_id, "order", parameters)


@router.get("/{orderId}", responses={200: {"model": OrderOut}}, operation_id="get-order")
async def get_order(request: Request, project_id: ProjectId, orderId: str) -> Response:
    """An order by its Tally id or its source_id."""
    return await respond(
        request,
        lambda conn: presenter.order_json(service.get(conn, project_id=project_id, ref=orderId)),
        write=False,
        quick=True,
    )


@router.put("/{orderId}", responses={200: {"model": OrderOut}}, operation_id="update-order")
async def update_order(
    request: Request, project_id: ProjectId, orderId: str, body: UpdateBody = None
) -> Response:
    """Change the fields sent; absent fields stay as they are."""
    payload = body or OrderUpdate()
    return await respond(
        request,
        lambda conn: _printed(
            service.update(conn, project_id=project_id, ref=orderId, body=payload, now=utcnow())
        ),
        write=True,
        quick=True,
        # A new source_id is held too: no other request may create an order with it.
        session=OrderSession(
            project_id,
            refs=(orderId,),
            source_ids=(payload.source_id,) if payload.source_id is not None else (),
        ),
    )


@router.get("", responses={200: {"model": OrdersListOut}}, operation_id="list-orders")
async def list_orders(
    request: Request,
    project_id: ProjectId,
    limit: Limit = 10,
    page: Page = 1,
    order: OrderSort = "-created_at",
) -> Response:
    """Orders of the project, newest first unless `order` says otherwise."""
    return await respond(
        request,
        lambda conn: presenter.orders_page(
            *service.list_page(conn, project_id=project_id, limit=limit, page=page, order=order)
        ),
        write=False,
    )
