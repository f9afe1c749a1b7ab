"""HTTP routes of /v1/vouchers: parse, call one service function, shape the response."""

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from tally.clock import utcnow
from tally.validation_rules import service as validation_rules
from tally.vouchers import presenter, service
from tally.vouchers.codes import MAX_CODE_LENGTH
from tally.vouchers.schemas import VoucherCreate, VoucherGenerate, VoucherOut
from tally.web.bodies import OrjsonRoute
from tally.web.context import ProjectId, respond

router = APIRouter(prefix="/v1/vouchers", tags=["Vouchers"], route_class=OrjsonRoute)


def voucher_out(conn: Connection, project_id: str, row: Mapping[Any, Any]) -> dict[str, Any]:
    """The voucher as printed, with the validation rules assigned to it."""
    assigned = validation_rules.assignments_of(conn, project_id, [row["id"]])
    return presenter.voucher_json(row, assigned.get(row["id"], ()))


CodePath = Annotated[str, Path(min_length=1, max_length=MAX_CODE_LENGTH)]


@router.post("", responses={200: {"model": VoucherOut}}, operation_id="generate-random-code")
async def generate_voucher(
    request: Request, project_id: ProjectId, body: Annotated[VoucherGenerate, Body()]
) -> Response:
    """Create a voucher with the code in the body, or one made from `code_config`."""
    return await respond(
        request,
        lambda conn: voucher_out(
            conn, project_id, service.generate(conn, project_id=project_id, body=body, now=utcnow())
        ),
        write=True,
        quick=True,
    )


@router.post("/{code}", responses={200: {"model": VoucherOut}}, operation_id="create-voucher")
async def create_voucher(
    request: Request,
    project_id: ProjectId,
    code: CodePath,
    body: Annotated[VoucherCreate, Body()],
) -> Response:
    """Create a voucher with this code."""
    return await respond(
        request,
        lambda conn: voucher_out(
            conn,
            project_id,
            service.create(conn, project_id=project_id, code=code, body=body, now=utcnow()),
        ),
        write=True,
        quick=True,
    )


@router.get("/{code}", responses={200: {"model": VoucherOut}}, operation_id="get-voucher")
async def get_voucher(request: Request, project_id: ProjectId, code: CodePath) -> Response:
    """A voucher by its code."""
    return await respond(
        request,
        lambda conn: voucher_out(
            conn, project_id, service.get(conn, project_id=project_id, code=code)
        ),
        write=False,
        quick=True,
    )
