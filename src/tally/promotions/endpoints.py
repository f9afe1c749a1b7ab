"""HTTP routes of /v1/promotions: parse, call one service function, shape the response."""

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from tally.clock import utcnow
from tally.promotions import presenter, service
from tally.promotions.schemas import TierCreate, TierOut, TiersListOut
from tally.validation_rules import service as validation_rules
from tally.web.bodies import OrjsonRoute
from tally.web.context import ProjectId, respond

router = APIRouter(prefix="/v1/promotions", tags=["Promotions"], route_class=OrjsonRoute)

Ref = Annotated[str, Path(min_length=1, max_length=255)]


@router.post(
    "/{campaignId}/tiers",
    responses={200: {"model": TierOut}},
    operation_id="add-promotion-tier-to-campaign",
)
async def create_tier(
    request: Request, project_id: ProjectId, campaignId: Ref, body: Annotated[TierCreate, Body()]
) -> Response:
    """Add a tier to a promotion campaign (by its id or name)."""
    return await respond(
        request,
        lambda conn: _tier_out(
            conn,
            project_id,
            service.create(
                conn, project_id=project_id, campaign_ref=campaignId, body=body, now=utcnow()
            ),
        ),
        write=True,
        quick=True,
    )


@router.get(
    "/tiers/{promotionTierId}",
    responses={200: {"model": TierOut}},
    operation_id="get-promotion-tier",
)
async def get_tier(request: Request, project_id: ProjectId, promotionTierId: Ref) -> Response:
    """A promotion tier by its id."""
    return await respond(
        request,
        lambda conn: _tier_out(
            conn, project_id, service.get(conn, project_id=project_id, tier_id=promotionTierId)
        ),
        write=False,
        quick=True,
    )


@router.get(
    "/{campaignId}/tiers",
    responses={200: {"model": TiersListOut}},
    operation_id="list-promotion-tiers-from-campaign",
)
async def list_tiers(request: Request, project_id: ProjectId, campaignId: Ref) -> Response:
    """The tiers of a promotion campaign, lowest hierarchy first."""
    return await respond(
        request,
        lambda conn: _tiers_out(
            conn, project_id, service.list_of(conn, project_id=project_id, campaign_ref=campaignId)
        ),
        write=False,
    )


def _tier_out(conn: Connection, project_id: str, row: Mapping[Any, Any]) -> dict[str, Any]:
    assigned = validation_rules.assignments_of(conn, project_id, [row["id"]])
    return presenter.tier_json(row, assigned.get(row["id"], ()))


def _tiers_out(
    conn: Connection, project_id: str, rows: Sequence[Mapping[Any, Any]]
) -> dict[str, Any]:
    assigned = validation_rules.assignments_of(conn, project_id, [row["id"] for row in rows])
    return presenter.tiers_json(rows, assigned)
