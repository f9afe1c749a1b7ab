"""HTTP routes of /v1/redemptions and the legacy one-redeemable redemptions: parse, call
the service, shape the response."""

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from tally.clock import utcnow
from tally.common.schemas import MAX_ID_LENGTH
from tally.errors import invalid_query, not_found
from tally.orders.sessions import OrderSession
from tally.redemptions import presenter, rollbacks, service
from tally.redemptions.schemas import (
    OneRedemptionRequest,
    RedeemOut,
    RedemptionOut,
    RedemptionRequest,
    RedemptionsListOut,
    RollbackRequest,
    RollbacksOut,
    TierRedemptionRequest,
    VoucherRedemptionRequest,
)
from tally.validations.schemas import QUICK_WORK, RedeemableIn
from tally.web.bodies import OrjsonRoute
from tally.web.context import ProjectId, respond, respond_with_status
from tally.web.errors import request_id_of
from tally.web.params import Limit, Page99

router = APIRouter(prefix="/v1/redemptions", tags=["Redemptions"], route_class=OrjsonRoute)
legacy_router = APIRouter(tags=["Redemptions"], route_class=OrjsonRoute)


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
    redeemable = _named("voucher", code)
    return await _redeem_one(request, project_id, redeemable, body or VoucherRedemptionRequest())


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
    redeemable = _named("promotion_tier", promotionTierId)
    return await _redeem_one(request, project_id, redeemable, body or TierRedemptionRequest())


def _named(kind: Literal["voucher", "promotion_tier"], ref: str) -> RedeemableIn:
    """The redeemable a path names. One longer than any id or code names nothing stored:
    404, as the same path's validation answers (not a request body's 400)."""
    if len(ref) > MAX_ID_LENGTH:
        raise not_found(kind, ref)
    return RedeemableIn(object=kind, id=ref)


async def _redeem_one(
    request: Request, project_id: str, redeemable: RedeemableIn, payload: OneRedemptionRequest
) -> Response:
    what = service.Redemption(
        project_id=project_id,
        channel_id=_channel(request),
        redeemables=[redeemable],
        order=payload.order,
        customer=payload.customer_ref(),
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

    lines = len(what.order.items or []) if what.order is not None else 0
    quick = max(lines, 1) * len(what.redeemables) <= QUICK_WORK
    session = OrderSession.of_payload(what.project_id, what.order)
    return await respond_with_status(request, work, write=True, quick=quick, session=session)


# filters[<name>][conditions][$<op>] (and [$in][<n>] for lists), filters[junction]:
# BEHAVIOR 10.16.
_CONDITION = re.compile(r"^filters\[(\w+)\]\[conditions\]\[\$(\w+)\](\[\d+\])?$")
_LIST_OPS = ("in", "not_in")
DateFilter = Annotated[str | None, Query(max_length=64)]
RedemptionSort = Literal[
    "created_at",
    "-created_at",
    "id",
    "-id",
    "voucher_code",
    "-voucher_code",
    "tracking_id",
    "-tracking_id",
    "customer_id",
    "-customer_id",
]


def _conditions(request: Request) -> tuple[list[service.Condition], str]:
    found: dict[tuple[str, str], list[str]] = {}
    junction = "and"
    for key, value in request.query_params.multi_items():
        if not key.startswith("filters"):
            continue
        # The official SDK sends every condition it was not given as the text "None"
        # (voucherify 6.1.1: filters[result]=None, ...[$is_not]=None): it means unset.
        if value == "None":
            continue
        if key == "filters[junction]":
            if value.lower() not in ("and", "or"):
                raise invalid_query("Property .filters[junction] must be AND or OR")
            junction = value.lower()
            continue
        match = _CONDITION.match(key)
        if (
            match is None
            or match.group(1) not in service.FILTER_COLUMNS
            or match.group(2) not in service.CONDITIONS
        ):
            raise invalid_query(f"Property .{key} is not a filter of redemptions")
        if len(value) > 255:
            raise invalid_query(f"Property .{key} must be at most 255 characters")
        op = match.group(2)
        values = value.split(",") if op in _LIST_OPS and match.group(3) is None else [value]
        found.setdefault((match.group(1), op), []).extend(values)
    if len(found) > 20:
        raise invalid_query("At most 20 filters a request")
    conditions = [service.Condition(name, op, tuple(v)) for (name, op), v in found.items()]
    return conditions, junction


@router.get("", responses={200: {"model": RedemptionsListOut}}, operation_id="list-redemptions")
async def list_redemptions(
    request: Request,
    project_id: ProjectId,
    limit: Limit = 10,
    page: Page99 = 1,
    result: Annotated[list[Literal["SUCCESS", "FAILURE"]] | None, Query()] = None,
    campaign: Annotated[str | None, Query(max_length=255)] = None,
    customer: Annotated[str | None, Query(max_length=255)] = None,
    order: RedemptionSort = "-created_at",
    created_before: Annotated[DateFilter, Query(alias="created_at[before]")] = None,
    created_after: Annotated[DateFilter, Query(alias="created_at[after]")] = None,
) -> Response:
    """Redemptions and rollbacks, newest first, with the filters of BEHAVIOR 10.16
    (``filters[<name>][conditions][$is|$is_not|$in|$not_in]``)."""
    conditions, junction = _conditions(request)
    return await respond(
        request,
        lambda conn: presenter.redemptions_page(
            *service.list_page(
                conn,
                project_id=project_id,
                limit=limit,
                page=page,
                order=order,
                results=list(result or []),
                campaign=campaign,
                customer=customer,
                created_before=created_before,
                created_after=created_after,
                conditions=conditions,
                junction=junction,
            )
        ),
        write=False,
    )


@router.post(
    "/{parentRedemptionId}/rollbacks",
    responses={200: {"model": RollbacksOut}},
    operation_id="rollback-stacked-redemptions",
)
async def rollback_stacked(
    request: Request,
    project_id: ProjectId,
    parentRedemptionId: str,
    reason: Annotated[str | None, Query(max_length=1000)] = None,
    tracking_id: Annotated[str | None, Query(max_length=1000)] = None,
    body: Annotated[RollbackRequest | None, Body()] = None,
) -> Response:
    """Roll back a stacked redemption whole (its parent id), or a lone redemption."""
    return await _rollback(
        request, project_id, parentRedemptionId, reason, tracking_id, body, stacked=True
    )


@router.post(
    "/{redemptionId}/rollback",
    responses={200: {"model": RedemptionOut}},
    operation_id="rollback-redemption",
)
async def rollback_one(
    request: Request,
    project_id: ProjectId,
    redemptionId: str,
    reason: Annotated[str | None, Query(max_length=1000)] = None,
    tracking_id: Annotated[str | None, Query(max_length=1000)] = None,
    body: Annotated[RollbackRequest | None, Body()] = None,
) -> Response:
    """Roll back a lone redemption (a stacked one goes whole through /rollbacks)."""
    return await _rollback(
        request, project_id, redemptionId, reason, tracking_id, body, stacked=False
    )


async def _rollback(
    request: Request,
    project_id: str,
    redemption_id: str,
    reason: str | None,
    tracking_id: str | None,
    body: RollbackRequest | None,
    *,
    stacked: bool,
) -> Response:
    payload = body or RollbackRequest()
    what = rollbacks.Rollback(
        project_id=project_id,
        channel_id=_channel(request),
        redemption_id=redemption_id,
        body=payload,
        reason=payload.reason or reason,
        tracking_id=payload.tracking_id or tracking_id,
        stacked=stacked,
    )
    request_id = request_id_of(request)

    def work(conn: Connection) -> tuple[int, object]:
        result = rollbacks.rollback(conn, what, now=utcnow())
        if isinstance(result, rollbacks.RollbackRefused):
            return result.error.status, result.error.body(request_id)
        if stacked:
            return 200, presenter.rollbacks_json(result)
        return 200, presenter.rollback_json(result)

    session = OrderSession(project_id, redemption_ids=(redemption_id,))
    return await respond_with_status(request, work, write=True, session=session)


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
