"""HTTP routes of /v1/exports (and the download alias): parse, call the service, shape the
response. A GET of an export with a ``token``, or asking for ``text/csv``, is the download
(BEHAVIOR 18.7: one host serves both the API and the files)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, Response

from tally.clock import utcnow
from tally.db.prepared import Row
from tally.errors import TallyError
from tally.exports import presenter, service
from tally.exports.schemas import ExportCreate, ExportOut, ExportParameters, ExportsListOut
from tally.web.bodies import OrjsonRoute
from tally.web.context import ProjectId, current_project, respond, respond_empty, run
from tally.web.params import Limit, Page
from tally.web.runtime import runtime_of

router = APIRouter(prefix="/v1/exports", tags=["Exports"], route_class=OrjsonRoute)
download_router = APIRouter(tags=["Exports"], route_class=OrjsonRoute)

ExportId = Annotated[str, Path(min_length=1, max_length=64)]
# No length limit here: an over-long token is a wrong token (401), not a bad request.
Token = Annotated[str | None, Query()]
ExportSort = Literal["created_at", "-created_at", "status", "-status"]


def base_url(request: Request) -> str:
    """Where result.url points: TALLY_PUBLIC_URL, else the address the caller used."""
    configured = runtime_of(request).public_url
    return configured or str(request.base_url).rstrip("/")


@router.post("", responses={200: {"model": ExportOut}}, operation_id="create-export")
async def create_export(request: Request, project_id: ProjectId, body: ExportCreate) -> Response:
    """Schedule an export; its file is written in the background (poll GET /v1/exports/{id})."""
    return await schedule(request, project_id, body.exported_object, body.parameters)


async def schedule(
    request: Request, project_id: str, exported_object: str, parameters: ExportParameters | None
) -> Response:
    """Create the export and wake this process's job runner (also POST /v1/orders/export)."""
    runtime = runtime_of(request)
    url = base_url(request)
    response = await respond(
        request,
        lambda conn: presenter.export_json(
            service.create(
                conn,
                project_id=project_id,
                exported_object=exported_object,
                parameters=parameters,
                directory=runtime.exports_dir,
                now=utcnow(),
            ),
            url,
        ),
        write=True,
    )
    if runtime.jobs is not None:
        runtime.jobs.wake()
    return response


@router.get("", responses={200: {"model": ExportsListOut}}, operation_id="list-exports")
async def list_exports(
    request: Request,
    project_id: ProjectId,
    limit: Limit = 10,
    page: Page = 1,
    order: ExportSort = "-created_at",
) -> Response:
    """The project's exports."""
    url = base_url(request)
    return await respond(
        request,
        lambda conn: presenter.exports_page(
            *service.list_page(conn, project_id=project_id, limit=limit, page=page, order=order),
            url,
        ),
        write=False,
    )


@router.get(
    "/{exportId}",
    responses={200: {"model": ExportOut, "content": {"text/plain": {}}}},
    operation_id="get-export",
)
async def get_export(request: Request, exportId: ExportId, token: Token = None) -> Response:
    """The export object; with ``token`` (no API keys needed) or ``Accept: text/csv``, its
    CSV file."""
    if token is not None:
        return await _download(request, exportId, token)
    project_id = await current_project(request)
    if "text/csv" in request.headers.get("accept", ""):
        row = await run(
            request,
            lambda conn: service.get(conn, project_id=project_id, export_id=exportId),
            write=False,
        )
        return _file(row)
    url = base_url(request)
    return await respond(
        request,
        lambda conn: presenter.export_json(
            service.get(conn, project_id=project_id, export_id=exportId), url
        ),
        write=False,
        quick=True,
    )


@download_router.get("/download/v1/exports/{exportId}", operation_id="download-export")
async def download_export(request: Request, exportId: ExportId, token: Token = None) -> Response:
    """The CSV file of a finished export: with its ``token``, or with the project's keys."""
    if token is not None:
        return await _download(request, exportId, token)
    project_id = await current_project(request)
    row = await run(
        request,
        lambda conn: service.get(conn, project_id=project_id, export_id=exportId),
        write=False,
    )
    return _file(row)


async def _download(request: Request, export_id: str, token: str) -> Response:
    """The file ``token`` opens; a wrong token with the project's keys is let through by
    the keys (BEHAVIOR 18.7: either is enough)."""
    try:
        row = await run(
            request,
            lambda conn: service.downloadable(conn, export_id=export_id, token=token),
            write=False,
        )
    except TallyError as exc:
        if exc.status != 401 or not request.headers.get("x-app-id"):
            raise
        project_id = await current_project(request)
        row = await run(
            request,
            lambda conn: service.get(conn, project_id=project_id, export_id=export_id),
            write=False,
        )
    request.state.project_id = row["project_id"]
    return _file(row)


def _file(row: Row) -> Response:
    path = service.file_of(row)
    # Read from disk in chunks as it is sent: memory stays flat for any size of file.
    return FileResponse(
        path,
        media_type="text/plain; charset=utf-8",
        filename=path.name,
        content_disposition_type="attachment",
    )


@router.delete("/{exportId}", status_code=204, operation_id="delete-export")
async def delete_export(request: Request, project_id: ProjectId, exportId: ExportId) -> Response:
    """Delete the export and its file."""
    return await respond_empty(
        request, lambda conn: service.delete(conn, project_id=project_id, export_id=exportId)
    )
