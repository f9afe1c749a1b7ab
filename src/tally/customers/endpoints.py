"""HTTP routes of /v1/customers: parse, call one service function, shape the response."""

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from tally.clock import utcnow
from tally.common.filters import query_datetime
from tally.customers import presenter, service
from tally.customers.schemas import CustomerCreate, CustomerOut, CustomersListOut, CustomerUpdate
from tally.errors import invalid_query
from tally.events import presenter as events_presenter
from tally.events import service as events
from tally.events.schemas import ActivityListOut
from tally.web.bodies import OrjsonRoute
from tally.web.context import ProjectId, respond, respond_empty
from tally.web.params import Limit, Page99

router = APIRouter(prefix="/v1/customers", tags=["Customers"], route_class=OrjsonRoute)

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
            service.upsert(conn, project_id=project_id, ref=payload, now=utcnow(), rename=True)
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
        lambda conn: service.delete(conn, project_id=project_id, ref=customerId, now=utcnow()),
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


@router.get(
    "/{customerId}/activity",
    responses={200: {"model": ActivityListOut}},
    operation_id="list-customer-activity",
)
async def list_customer_activity(
    request: Request,
    project_id: ProjectId,
    customerId: str,
    limit: Limit = 10,
    order: Literal["created_at", "-created_at"] = "-created_at",
    starting_after_id: Annotated[str | None, Query(max_length=64)] = None,
    start_date: DateFilter = None,
    end_date: DateFilter = None,
    type: Annotated[str | None, Query(max_length=64)] = None,
    campaign_id: Annotated[str | None, Query(max_length=64)] = None,
    campaign_type: Annotated[str | None, Query(max_length=64)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The customer's events (orders, redemptions, changes to the customer), newest first
    unless `order` says otherwise; page on with `starting_after_id`."""
    for name, value in (
        ("campaign_id", campaign_id),
        ("campaign_type", campaign_type),
        ("category", category),
    ):
        if value is not None:
            raise invalid_query(f"Filtering customer activity by {name} is not supported")
    start = query_datetime(start_date, "start_date") if start_date is not None else None
    end = query_datetime(end_date, "end_date") if end_date is not None else None

    def work(conn: Connection) -> object:
        customer = service.get(conn, project_id=project_id, ref=customerId)
        return events_presenter.activity_page(
            *events.customer_activity(
                conn,
                project_id=project_id,
                customer_id=customer["id"],
                limit=limit,
                descending=order == "-created_at",
                starting_after_id=starting_after_id,
                type_=type,
                start=start,
                end=end,
            )
        )

    return await respond(request, work, write=False)
