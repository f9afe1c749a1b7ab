"""HTTP routes of /v1/customers: parse, call one service function, shape the response."""

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response

from tally.clock import utcnow
from tally.customers import presenter, service
from tally.customers.schemas import CustomerCreate, CustomerOut, CustomersListOut, CustomerUpdate
from tally.web.context import ProjectId, respond, respond_empty
from tally.web.params import Limit, Page99

router = APIRouter(prefix="/v1/customers", tags=["Customers"])

CustomerOrder = Literal[
    "created_at", "-created_at", "updated_at", "-updated_at", "source_id", "-source_id"
]
# An SDK call with no arguments sends an empty body: it means "nothing to set".
CreateBody = Annotated[CustomerCreate | None, Body()]
UpdateBody = Annotated[CustomerUpdate | None, Body()]
DateFilter = Annotated[str | None, Query(max_length=64)]


@router.post("", responses={200: {"model": CustomerOut}}, operation_id="create-customer")
async def create_customer(
    request: Request, project_id: ProjectId, body: CreateBody = None
) -> Response:
    """Create a customer, or update the one its `id` or `source_id` names (upsert)."""
    payload = body or CustomerCreate()
    return await respond(
        request,
        lambda conn: presenter.customer_json(
            service.upsert(conn, project_id=project_id, ref=payload, now=utcnow())
        ),
        write=True,
        quick=True,
    )


@router.get("/{customerId}", responses={200: {"model": CustomerOut}}, operation_id="get-customer")
async def get_customer(request: Request, project_id: ProjectId, customerId: str) -> Response:
    """A customer by its Tally id or its source_id."""
    return await respond(
        request,
        lambda conn: presenter.customer_json(
            service.get(conn, project_id=project_id, ref=customerId)
        ),
        write=False,
        quick=True,
    )


@router.put(
    "/{customerId}", responses={200: {"model": CustomerOut}}, operation_id="update-customer"
)
async def update_customer(
    request: Request, project_id: ProjectId, customerId: str, body: UpdateBody = None
) -> Response:
    """Change the fields sent; absent fields stay as they are."""
    payload = body or CustomerUpdate()
    return await respond(
        request,
        lambda conn: presenter.customer_json(
            service.update(conn, project_id=project_id, ref=customerId, body=payload, now=utcnow())
        ),
        write=True,
        quick=True,
    )


@router.delete("/{customerId}", status_code=204, operation_id="delete-customer")
async def delete_customer(request: Request, project_id: ProjectId, customerId: str) -> Response:
    """Delete a customer; their orders stay, without the link."""
    return await respond_empty(
        request,
        lambda conn: service.delete(conn, project_id=project_id, ref=customerId),
    )


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
    created_before: Annotated[DateFilter, Query(alias="created_at[before]")] = None,
    created_after: Annotated[DateFilter, Query(alias="created_at[after]")] = None,
    updated_before: Annotated[DateFilter, Query(alias="updated_at[before]")] = None,
    updated_after: Annotated[DateFilter, Query(alias="updated_at[after]")] = None,
) -> Response:
    """Customers of the project, newest first unless `order` says otherwise."""
    return await respond(
        request,
        lambda conn: presenter.customers_page(
            *service.list_page(
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
            limit=limit,
            page=page,
        ),
        write=False,
    )
