"""HTTP routes of /v1/customers: parse, call one service function, shape the response."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from tally.clock import utcnow
from tally.customers import presenter, service
from tally.customers.schemas import CustomerCreate, CustomerOut, CustomersListOut, CustomerUpdate
from tally.web.context import ProjectId, run
from tally.web.params import Limit, Page99
from tally.web.responses import JSON

router = APIRouter(prefix="/v1/customers", tags=["Customers"])

CustomerOrder = Literal["created_at", "-created_at", "updated_at", "-updated_at"]


@router.post("", responses={200: {"model": CustomerOut}}, operation_id="create-customer")
async def create_customer(request: Request, project_id: ProjectId, body: CustomerCreate) -> JSON:
    row = await run(
        request,
        lambda conn: service.upsert(conn, project_id=project_id, ref=body, now=utcnow()),
        write=True,
    )
    return JSON(presenter.customer_json(row))


@router.get("/{customerId}", responses={200: {"model": CustomerOut}}, operation_id="get-customer")
async def get_customer(request: Request, project_id: ProjectId, customerId: str) -> JSON:
    row = await run(
        request, lambda conn: service.get(conn, project_id=project_id, ref=customerId), write=False
    )
    return JSON(presenter.customer_json(row))


@router.put(
    "/{customerId}", responses={200: {"model": CustomerOut}}, operation_id="update-customer"
)
async def update_customer(
    request: Request, project_id: ProjectId, customerId: str, body: CustomerUpdate
) -> JSON:
    row = await run(
        request,
        lambda conn: service.update(
            conn, project_id=project_id, ref=customerId, body=body, now=utcnow()
        ),
        write=True,
    )
    return JSON(presenter.customer_json(row))


@router.delete("/{customerId}", status_code=204, operation_id="delete-customer")
async def delete_customer(request: Request, project_id: ProjectId, customerId: str) -> Response:
    await run(
        request,
        lambda conn: service.delete(conn, project_id=project_id, ref=customerId),
        write=True,
    )
    return Response(status_code=204)


@router.get("", responses={200: {"model": CustomersListOut}}, operation_id="list-customers")
async def list_customers(
    request: Request,
    project_id: ProjectId,
    limit: Limit = 10,
    page: Page99 = 1,
    order: CustomerOrder = "-created_at",
    email: Annotated[str | None, Query(max_length=320)] = None,
    city: Annotated[str | None, Query(max_length=1000)] = None,
    name: Annotated[str | None, Query(max_length=1000)] = None,
    created_before: Annotated[str | None, Query(alias="created_at[before]")] = None,
    created_after: Annotated[str | None, Query(alias="created_at[after]")] = None,
    updated_before: Annotated[str | None, Query(alias="updated_at[before]")] = None,
    updated_after: Annotated[str | None, Query(alias="updated_at[after]")] = None,
) -> JSON:
    rows, total = await run(
        request,
        lambda conn: service.list_page(
            conn,
            project_id=project_id,
            limit=limit,
            page=page,
            order=order,
            email=email,
            city=city,
            name=name,
            created_before=created_before,
            created_after=created_after,
            updated_before=updated_before,
            updated_after=updated_after,
        ),
        write=False,
    )
    customers = [presenter.customer_json(row) for row in rows]
    return JSON(
        {
            "object": "list",
            "data_ref": "customers",
            "customers": customers,
            "total": total,
            "has_more": (page - 1) * limit + len(customers) < total,
        }
    )
