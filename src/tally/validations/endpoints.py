"""HTTP route of /v1/validations: parse, call the service, shape the response."""

from typing import Annotated

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response

from tally.clock import utcnow
from tally.validations import presenter, service
from tally.validations.schemas import ValidationOut, ValidationRequest
from tally.web.context import ProjectId, respond
from tally.web.errors import request_id_of

router = APIRouter(prefix="/v1/validations", tags=["Validations"])


@router.post(
    "", responses={200: {"model": ValidationOut}}, operation_id="validate-stacked-discounts"
)
async def validate(
    request: Request, project_id: ProjectId, body: Annotated[ValidationRequest, Body()]
) -> Response:
    """What the redeemables would take off the order, each on what the ones before it left.
    Nothing is saved."""
    return await respond(
        request,
        lambda conn: presenter.validation_json(
            service.validate(
                conn,
                project_id=project_id,
                body=body,
                now=utcnow(),
                request_id=request_id_of(request),
            ),
            body.tracking_id,
        ),
        write=False,
    )
