"""HTTP routes of /v1/orders: parse, call one service function, shape the response."""

from fastapi import APIRouter, Request

from tally.clock import utcnow
from tally.orders import presenter, service
from tally.orders.schemas import OrderCreate, OrderOut, OrdersListOut, OrderSort, OrderUpdate
from tally.web.context import ProjectId, run
from tally.web.params import Limit, Page
from tally.web.responses import JSON

router = APIRouter(prefix="/v1/orders", tags=["Orders"])


@router.post("", responses={200: {"model": OrderOut}}, operation_id="create-order")
async def create_order(request: Request, project_id: ProjectId, body: OrderCreate) -> JSON:
    """Create an order, or update the one its `id` or `source_id` names (upsert)."""
    row = await run(
        request,
        lambda conn: service.create(conn, project_id=project_id, body=body, now=utcnow()),
        write=True,
    )
    return JSON(presenter.order_json(row))


@router.get("/{orderId}", responses={200: {"model": OrderOut}}, operation_id="get-order")
async def get_order(request: Request, project_id: ProjectId, orderId: str) -> JSON:
    """An order by its Tally id or its source_id."""
    row = await run(
        request, lambda conn: service.get(conn, project_id=project_id, ref=orderId), write=False
    )
    return JSON(presenter.order_json(row))


@router.put("/{orderId}", responses={200: {"model": OrderOut}}, operation_id="update-order")
async def update_order(
    request: Request, project_id: ProjectId, orderId: str, body: OrderUpdate
) -> JSON:
    """Change the fields sent; absent fields stay as they are."""
    row = await run(
        request,
        lambda conn: service.update(
            conn, project_id=project_id, ref=orderId, body=body, now=utcnow()
        ),
        write=True,
    )
    return JSON(presenter.order_json(row))


@router.get("", responses={200: {"model": OrdersListOut}}, operation_id="list-orders")
async def list_orders(
    request: Request,
    project_id: ProjectId,
    limit: Limit = 10,
    page: Page = 1,
    order: OrderSort = "-created_at",
) -> JSON:
    """Orders of the project, newest first unless `order` says otherwise."""
    rows, total = await run(
        request,
        lambda conn: service.list_page(
            conn, project_id=project_id, limit=limit, page=page, order=order
        ),
        write=False,
    )
    return JSON(
        {
            "object": "list",
            "data_ref": "orders",
            "orders": [presenter.order_json(row) for row in rows],
            "total": total,
        }
    )
