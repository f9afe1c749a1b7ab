"""HTTP routes of /v1/events (a Tally extension): every event of the project, oldest first,
with a cursor, so a consumer that was down catches up without gaps (BEHAVIOR 20.7)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from tally.events import presenter, service
from tally.events.schemas import EventOut, EventsListOut
from tally.web.bodies import OrjsonRoute
from tally.web.context import ProjectId, respond
from tally.web.params import Limit

router = APIRouter(prefix="/v1/events", tags=["Events"], route_class=OrjsonRoute)

EventId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("", responses={200: {"model": EventsListOut}}, operation_id="list-events")
async def list_events(
    request: Request,
    project_id: ProjectId,
    limit: Limit = 10,
    starting_after: Annotated[
        str | None, Query(max_length=64, description="An event id: list the events after it.")
    ] = None,
    type: Annotated[str | None, Query(max_length=64, description="Only this type.")] = None,
    order_id: Annotated[
        str | None, Query(max_length=64, description="Only the events of this order.")
    ] = None,
) -> Response:
    """Events in the order they were committed. An event appears once every transaction
    that started before it has ended, so paging with `starting_after` never skips one."""
    return await respond(
        request,
        lambda conn: presenter.events_page(
            *service.list_page(
                conn,
                project_id=project_id,
                limit=limit,
                starting_after=starting_after,
                type_=type,
                order_id=order_id,
            )
        ),
        write=False,
    )


@router.get("/{eventId}", responses={200: {"model": EventOut}}, operation_id="get-event")
async def get_event(request: Request, project_id: ProjectId, eventId: EventId) -> Response:
    return await respond(
        request,
        lambda conn: presenter.event_json(
            service.get(conn, project_id=project_id, event_id=eventId)
        ),
        write=False,
    )
