"""HTTP routes of /v1/campaigns: parse, call one service function, shape the response."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from tally.campaigns import presenter, service
from tally.campaigns.schemas import CampaignCreate, CampaignOut, CampaignVoucherCreate
from tally.clock import utcnow
from tally.validation_rules import service as validation_rules
from tally.vouchers import presenter as vouchers
from tally.vouchers.codes import MAX_CODE_LENGTH
from tally.vouchers.schemas import VoucherOut
from tally.web.bodies import OrjsonRoute
from tally.web.context import ProjectId, respond

router = APIRouter(prefix="/v1/campaigns", tags=["Campaigns"], route_class=OrjsonRoute)

CampaignRef = Annotated[str, Path(min_length=1, max_length=255)]
CodePath = Annotated[str, Path(min_length=1, max_length=MAX_CODE_LENGTH)]
# An SDK call with no arguments sends an empty body: it means "nothing to set".
VoucherBody = Annotated[CampaignVoucherCreate | None, Body()]


@router.post("", responses={200: {"model": CampaignOut}}, operation_id="create-campaign")
async def create_campaign(
    request: Request, project_id: ProjectId, body: Annotated[CampaignCreate, Body()]
) -> Response:
    """Create a campaign of discount vouchers, with `vouchers_count` codes made at once."""
    return await respond(
        request,
        lambda conn: _campaign_out(
            conn,
            project_id,
            service.create(conn, project_id=project_id, body=body, now=utcnow())["id"],
        ),
        write=True,
    )


@router.get("/{campaignId}", responses={200: {"model": CampaignOut}}, operation_id="get-campaign")
async def get_campaign(
    request: Request, project_id: ProjectId, campaignId: CampaignRef
) -> Response:
    """A campaign by its id or its name."""
    return await respond(
        request,
        lambda conn: _campaign_out(conn, project_id, campaignId),
        write=False,
        quick=True,
    )


@router.post(
    "/{campaignId}/vouchers/{code}",
    responses={200: {"model": VoucherOut}},
    operation_id="add-voucher-with-specific-code-to-campaign",
)
async def add_voucher(
    request: Request,
    project_id: ProjectId,
    campaignId: CampaignRef,
    code: CodePath,
    body: VoucherBody = None,
) -> Response:
    """Add a voucher with this code, made from the campaign's template."""
    payload = body or CampaignVoucherCreate()
    return await respond(
        request,
        lambda conn: vouchers.voucher_json(
            service.add_voucher(
                conn, project_id=project_id, ref=campaignId, code=code, body=payload, now=utcnow()
            )
        ),
        write=True,
        quick=True,
    )


def _campaign_out(conn: Connection, project_id: str, ref: str) -> dict[str, Any]:
    """The campaign as printed; a promotion with its tiers and their rule assignments."""
    row, tiers = service.view(conn, project_id=project_id, ref=ref)
    related = [row["id"], *(tier["id"] for tier in tiers or [])]
    assigned = validation_rules.assignments_of(conn, project_id, related)
    return presenter.campaign_json(row, tiers, assigned)
