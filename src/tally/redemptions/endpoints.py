"""HTTP routes of /v1/redemptions and the legacy one-redeemable redemptions: parse, call
the service, shape the response."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from tally.clock import utcnow
from tally.redemptions import presenter, service
from tally.redemptions.schemas import (
    RedeemOut,
    RedemptionOut,
    RedemptionRequest,
    TierRedemptionRequest,
    VoucherRedemptionRequest,
)
from tally.validations.schemas import RedeemableIn
from tally.web.context import ProjectId, respond, respond_with_status
from tally.web.errors import request_id_of

router = APIRouter(prefix="/v1/redemptions", tags=["Redemptions"])
legacy_router = APIRouter(tags=["Redemptions"])


def _channel(request: Request) -> str:
    # Authenticated requests always carry it (web.context.current_project).
    return request.headers.get("x-app-id", "")


@router.post("", responses={200: {"model": RedeemOut}}, operation_id="redeem-stacked-discounts")
async def redeem(
    request: Request, project_id: ProjectId, body: Annotated[RedemptionRequest, Body()]
) -> Response:
    """Redeem up to 30 vouchers and promotion tiers on an order, in request order. A refused
    redeemable refuses the whole request (400); the failed redemption is recorded."""
    what = service.Redemption(
        project_id=project_id,
        channel_id=_channel(request),
        redeemables=body.redeemables,
        order=body.order,
        customer=body.customer,
        tracking_id=body.tracking_id,
        metadata=body.metadata,
    )
    return await _redeem(request, what, presenter.redeem_json, legacy=False)


@legacy_router.post(
    "/v1/vouchers/{code}/redemption",
    responses={200: {"model": RedemptionOut}},
    operation_id="redeem-voucher",
)
async def redeem_voucher(
    request: Request,
    project_id: ProjectId,
    code: str,
    body: Annotated[VoucherRedemptionRequest | None, Body()] = None,
) -> Response:
    """Redeem one voucher (deprecated upstream in favour of POST /v1/redemptions)."""
    payload = body or VoucherRedemptionRequest()
    what = service.Redemption(
        project_id=project_id,
        channel_id=_channel(request),
        redeemables=[RedeemableIn(object="voucher", id=code)],
        order=payload.order,
        customer=payload.customer_ref(),
        tracking_id=payload.tracking_id,
        metadata=payload.metadata,
    )
    return await _redeem(request, what, presenter.one_redemption_json, legacy=True)


@legacy_router.post(
    "/v1/promotions/tiers/{promotionTierId}/redemption",
    responses={200: {"model": RedemptionOut}},
    operation_id="redeem-promotion",
)
async def redeem_tier(
    request: Request,
    project_id: ProjectId,
    promotionTierId: str,
    body: Annotated[TierRedemptionRequest | None, Body()] = None,
) -> Response:
    """Redeem one promotion tier."""
    payload = body or TierRedemptionRequest()
    what = service.Redemption(
        project_id=project_id,
        channel_id=_channel(request),
        redeemables=[RedeemableIn(object="promotion_tier", id=promotionTierId)],
        order=payload.order,
        customer=payload.customer,
        tracking_id=payload.tracking_id,
        metadata=payload.metadata,
    )
    return await _redeem(request, what, presenter.one_redemption_json, legacy=True)


async def _redeem(
    request: Request,
    what: service.Redemption,
    shape: Callable[[service.Redeemed], dict[str, Any]],
    *,
    legacy: bool,
) -> Response:
    request_id = request_id_of(request)

    def work(conn: Connection) -> tuple[int, object]:
        result = service.redeem(conn, what, now=utcnow(), request_id=request_id)
        if isinstance(result, service.Refused):
            if legacy and result.error["key"] == "not_found":
                # The legacy endpoints name one resource in their path: it is not there.
                (redeemable,) = what.redeemables
                return 404, {
                    **result.error,
                    "resource_id": redeemable.id,
                    "resource_type": redeemable.object,
                }
            return 400, presenter.refused_json(result)
        return 200, shape(result)

    return await respond_with_status(request, work, write=True)


@router.get(
    "/{redemptionId}", responses={200: {"model": RedemptionOut}}, operation_id="get-redemption"
)
async def get_redemption(request: Request, project_id: ProjectId, redemptionId: str) -> Response:
    """A redemption or a rollback by its id."""
    return await respond(
        request,
        lambda conn: presenter.redemption_json(
            service.get(conn, project_id=project_id, redemption_id=redemptionId)
        ),
        write=False,
        quick=True,
    )
