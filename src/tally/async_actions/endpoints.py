"""HTTP routes of /v1/async-actions: parse, call the service, shape the response."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from tally.async_actions import presenter, service
from tally.async_actions.schemas import AsyncActionOut, AsyncActionsListOut
from tally.common.filters import query_datetime
from tally.web.bodies import OrjsonRoute
from tally.web.context import ProjectId, respond
from tally.web.params import Limit

router = APIRouter(prefix="/v1/async-actions", tags=["Async actions"], route_class=OrjsonRoute)

ActionId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("", responses={200: {"model": AsyncActionsListOut}}, operation_id="list-async-actions")
async def list_actions(
    request: Request,
    project_id: ProjectId,
    limit: Limit = 10,
    end_date: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The project's async actions, newest first (``end_date``: scheduled before it)."""
    before = query_datetime(end_date, "end_date") if end_date is not None else None
    return await respond(
        request,
        lambda conn: presenter.actions_page(
            *service.list_page(conn, project_id=project_id, limit=limit, before=before)
        ),
        write=False,
    )


@router.get(
    "/{asyncActionId}",
    responses={200: {"model": AsyncActionOut}},
    operation_id="get-async-action",
)
async def get_action(request: Request, project_id: ProjectId, asyncActionId: ActionId) -> Response:
    """An async action with its result."""
    return await respond(
        request,
        lambda conn: presenter.action_json(
            service.get(conn, project_id=project_id, action_id=asyncActionId)
        ),
        write=False,
        quick=True,
    )
