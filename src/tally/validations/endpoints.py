"""HTTP route of /v1/validations: parse, call the service, shape the response."""

from typing import Annotated

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response

from tally.clock import utcnow
from tally.orders.sessions import OrderSession
from tally.validations import presenter, service
from tally.validations.schemas import (
    ValidationOut,
    ValidationRequest,
    VoucherValidationOut,
    VoucherValidationRequest,
)
from tally.web.bodies import OrjsonRoute
from tally.web.context import ProjectId, respond
from tally.web.errors import request_id_of

router = APIRouter(prefix="/v1/validations", tags=["Validations"], route_class=OrjsonRoute)
legacy_router = APIRouter(tags=["Validations"], route_class=OrjsonRoute)


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
        quick=body.quick,
        session=OrderSession.of_payload(project_id, body.order),
    )


@legacy_router.post(
    "/v1/vouchers/{code}/validate",
    responses={200: {"model": VoucherValidationOut}},
    operation_id="validate-voucher",
)
async def validate_voucher(
    request: Request,
    project_id: ProjectId,
    code: str,
    body: Annotated[VoucherValidationRequest | None, Body()] = None,
) -> Response:
    """What one voucher would take off the order (deprecated upstream in favour of
    POST /v1/validations). Nothing is saved."""
    payload = body or VoucherValidationRequest()
    return await respond(
        request,
        lambda conn: presenter.voucher_validation_json(
            service.validate_voucher(
                conn,
                project_id=project_id,
                code=code,
                order=payload.order,
                customer=payload.customer,
                now=utcnow(),
                request_id=request_id_of(request),
            ),
            code,
            service.tracking_id_for(project_id, payload.tracking_id, payload.customer),
        ),
        write=False,
        session=OrderSession.of_payload(project_id, payload.order),
    )
