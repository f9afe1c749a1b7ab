"""The dashboard's pages (/dashboard): server-rendered HTML for a project's operator.

Every page but the sign-in form needs a valid session (tally.dashboard.auth); without one a
page redirects to the sign-in form and a form post is refused. A server without a signing
secret (tally.dashboard.secret) has no valid session to give: its sign-in form says so.
Pages are read-only views over the same services the API uses, scoped to the session's
project.
"""

import csv
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.engine import Connection

from tally.async_actions import service as async_actions
from tally.clock import utcnow
from tally.dashboard import auth, presenter, service
from tally.db.prepared import Row
from tally.errors import TallyError
from tally.exports import service as exports
from tally.exports.schemas import ExportParameters
from tally.orders import service as orders
from tally.orders.files import OrderFileError, read_orders
from tally.orders.schemas import MAX_IMPORT, OrderCreate
from tally.projects import repository as projects_repository
from tally.projects import service as projects
from tally.web.context import run
from tally.web.errors import request_id_of
from tally.web.runtime import runtime_of

router = APIRouter(prefix="/dashboard", include_in_schema=False)

_STATIC = Path(__file__).parent / "static"
_templates = Environment(
    loader=PackageLoader("tally.dashboard", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters.update(presenter.filters())

# Pages hold one project's data: never cached, never framed, no script or style from
# anywhere but here.
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
_MAX_FORM_BYTES = 16_384
_IMPORT_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv")
_ORDERS = TypeAdapter(list[OrderCreate])


@dataclass(frozen=True)
class Signed:
    session: auth.Session
    project_name: str
    currency: str | None


def _html(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    signed = context.get("signed")
    context.setdefault("currency", signed.currency if signed is not None else None)
    body = _templates.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


def _secure(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto")
    return (forwarded or request.url.scheme) == "https"


def _secret(request: Request) -> bytes | None:
    """The server's signing secret (None: the dashboard signs no one in)."""
    return runtime_of(request).dashboard_secret.value


def _session_of(conn: Connection, value: str | None, secret: bytes | None) -> Signed | None:
    """The session a cookie value holds, checked against its project's key (a read)."""
    project_id = auth.project_of(value) if value else None
    if value is None or project_id is None or secret is None:
        return None
    key = projects_repository.dashboard_key(conn, project_id)
    if key is None:
        return None
    session = auth.verify(value, key[1], secret=secret, now=int(time.time()))
    return Signed(session, key[0], key[2]) if session is not None else None


async def _signed_in(request: Request) -> Signed | None:
    value = request.cookies.get(auth.SESSION_COOKIE)
    secret = _secret(request)
    if value is None or secret is None:
        return None
    return await run(request, lambda conn: _session_of(conn, value, secret), write=False)


async def _form_lists(request: Request) -> dict[str, list[str]]:
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        return {}
    try:
        return parse_qs(body.decode("utf-8", "replace"), max_num_fields=200)
    except ValueError:
        return {}


async def _form(request: Request) -> dict[str, str]:
    return {name: values[0] for name, values in (await _form_lists(request)).items()}


def _to_sign_in() -> RedirectResponse:
    return RedirectResponse("/dashboard/sign-in", status_code=303, headers=_HEADERS)


def _refused() -> HTMLResponse:
    return _html("error.html", 403, title="Refused", message="This form has expired: reload it.")


async def _page(
    request: Request,
    template: str,
    work: Callable[[Connection, str], dict[str, Any]],
    *,
    quick: bool = False,
    **context: Any,
) -> Response:
    """A signed-in page: ``work`` reads what it shows for the session's project, in the
    same read as the session check. ``quick``: a page of one object, run as the API runs
    its one-object reads (on the event loop on SQLite)."""
    value = request.cookies.get(auth.SESSION_COOKIE)
    secret = _secret(request)
    if value is None or secret is None:
        return _to_sign_in()

    def read(conn: Connection) -> tuple[Signed | None, dict[str, Any] | TallyError]:
        signed = _session_of(conn, value, secret)
        if signed is None:
            return None, {}
        try:
            return signed, work(conn, signed.session.project_id)
        except TallyError as exc:
            if exc.status != 404:
                raise
            return signed, exc

    signed, found = await run(request, read, write=False, quick=quick)
    if signed is None:
        return _to_sign_in()
    if isinstance(found, TallyError):
        return _html(
            "error.html",
            404,
            title="Not found",
            message=found.details or "Nothing here.",
            signed=signed,
        )
    return _html(template, signed=signed, **context, **found)


async def _status(
    request: Request,
    read: Callable[[Connection, str], Row],
    shape: Callable[[Row], dict[str, Any]],
) -> Response:
    """A live page's JSON: the session checked and the object read in one read; 401
    without a session, 404 for an object of no such id in the session's project."""
    value = request.cookies.get(auth.SESSION_COOKIE)
    secret = _secret(request)

    def work(conn: Connection) -> Row | int:
        signed = _session_of(conn, value, secret)
        if signed is None:
            return 401
        try:
            return read(conn, signed.session.project_id)
        except TallyError as exc:
            if exc.status != 404:
                raise
            return 404

    found = await run(request, work, write=False, quick=True)
    if isinstance(found, int):
        return JSONResponse({"error": "not found" if found == 404 else "sign in"}, found, _HEADERS)
    return JSONResponse(shape(found), headers=_HEADERS)


@router.get("")
async def home(request: Request) -> Response:
    signed = await _signed_in(request)
    target = "/dashboard/orders" if signed is not None else "/dashboard/sign-in"
    return RedirectResponse(target, status_code=303, headers=_HEADERS)


def _unavailable(request: Request) -> HTMLResponse:
    """The sign-in page of a server that cannot sign anyone in: why, and no form."""
    problem = runtime_of(request).dashboard_secret.problem
    return _html("sign_in.html", 503, token=None, error=None, unavailable=problem)


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    if _secret(request) is None:
        return _unavailable(request)
    token = auth.new_sign_in_token()
    response = _html("sign_in.html", token=token, error=None)
    response.set_cookie(
        auth.SIGN_IN_COOKIE,
        token,
        max_age=3600,
        path=auth.PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    secret = _secret(request)
    if secret is None:
        return _unavailable(request)
    form = await _form(request)
    expected = request.cookies.get(auth.SIGN_IN_COOKIE)
    given = form.get("token")
    if not expected or not given or not _same(expected, given):
        return _refused()
    app_id, app_token = form.get("app_id", "").strip(), form.get("app_token", "").strip()

    def check(conn: Connection) -> tuple[str, str] | None:
        try:
            project_id = projects.authenticate(conn, app_id=app_id, app_token=app_token)
        except TallyError:
            return None
        key = projects_repository.dashboard_key(conn, project_id)
        return (project_id, key[1]) if key is not None else None

    found = await run(request, check, write=False)
    if found is None:
        return _html("sign_in.html", 401, token=given, error="Those keys do not open any project.")
    response = RedirectResponse("/dashboard/orders", status_code=303, headers=_HEADERS)
    response.set_cookie(
        auth.SESSION_COOKIE,
        auth.issue(found[0], found[1], secret=secret, now=int(time.time())),
        max_age=auth.SESSION_SECONDS,
        path=auth.PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(auth.SIGN_IN_COOKIE, path=auth.PATH)
    return response


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    signed = await _signed_in(request)
    form = await _form(request)
    if signed is None:
        return _to_sign_in()
    if not auth.csrf_matches(signed.session, form.get("csrf")):
        return _refused()
    response = _to_sign_in()
    response.delete_cookie(auth.SESSION_COOKIE, path=auth.PATH)
    return response


@router.get("/orders")
async def orders_list(request: Request) -> Response:
    query = request.query_params
    filters = service.OrderFilters(
        status=query.get("status") or None,
        created_from=query.get("created_from") or None,
        created_to=query.get("created_to") or None,
        customer=query.get("customer") or None,
        source_id=query.get("source_id") or None,
    )
    cursor = query.get("after") or None

    def work(conn: Connection, project_id: str) -> dict[str, Any]:
        page = service.orders_page(conn, project_id=project_id, filters=filters, cursor=cursor)
        next_link = None
        if page.next_cursor is not None:
            next_link = "?" + urlencode({**filters.query(), "after": page.next_cursor})
        return {"page": page, "next_link": next_link}

    return await _page(
        request,
        "orders.html",
        work,
        filters=filters,
        statuses=service.STATUSES,
        first_link="?" + urlencode(filters.query()) if cursor else None,
    )


@router.get("/orders/{order_id}")
async def order_detail(request: Request, order_id: str) -> Response:
    return await _page(
        request,
        "order.html",
        lambda conn, project_id: {
            "view": service.order_page(conn, project_id=project_id, ref=order_id)
        },
        quick=True,
    )


@router.get("/customers/{customer_id}")
async def customer_detail(request: Request, customer_id: str) -> Response:
    return await _page(
        request,
        "customer.html",
        lambda conn, project_id: {
            "view": service.customer_page(conn, project_id=project_id, ref=customer_id)
        },
    )


@router.get("/redemptions")
async def redemptions_list(request: Request) -> Response:
    result = request.query_params.get("result") or None
    try:
        page = max(1, min(int(request.query_params.get("page") or 1), 1000))
    except ValueError:
        page = 1

    def work(conn: Connection, project_id: str) -> dict[str, Any]:
        rows, total = service.redemptions_page(
            conn, project_id=project_id, result=result, page=page
        )
        return {"rows": rows, "total": total}

    return await _page(
        request,
        "redemptions.html",
        work,
        result=result,
        page_number=page,
        page_size=service.PAGE_SIZE,
    )


@router.get("/exports")
async def exports_page(request: Request) -> Response:
    fields, defaults = service.export_fields()
    return await _page(
        request,
        "exports.html",
        lambda conn, project_id: {"exports": service.recent_exports(conn, project_id=project_id)},
        fields=fields,
        defaults=defaults,
        statuses=service.STATUSES,
        error=None,
    )


@router.post("/exports")
async def start_export(request: Request) -> Response:
    signed = await _signed_in(request)
    form = await _form_lists(request)
    if signed is None:
        return _to_sign_in()
    if not auth.csrf_matches(signed.session, next(iter(form.get("csrf") or []), None)):
        return _refused()
    first = {name: values[0] for name, values in form.items()}
    try:
        parameters = ExportParameters(
            fields=form.get("fields") or None,
            filters=service.export_filters(
                first.get("status"), first.get("created_from"), first.get("created_to")
            ),
            order="-created_at",
        )
    except ValidationError as exc:
        # More fields than an export takes, or too long a name: the form's fault, refused
        # like an unknown field (which only the service can tell), not a server error.
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        return _export_refused(f"Property .{where}: {problem['msg']}", signed)
    runtime = runtime_of(request)
    project_id = signed.session.project_id
    try:
        row = await run(
            request,
            lambda conn: exports.create(
                conn,
                project_id=project_id,
                exported_object="order",
                parameters=parameters,
                directory=runtime.exports_dir,
                now=utcnow(),
                channel="USER_PORTAL",
            ),
            write=True,
        )
    except TallyError as exc:
        return _export_refused(exc.details, signed)
    if runtime.jobs is not None:
        runtime.jobs.wake()
    return RedirectResponse(f"/dashboard/exports/{row['id']}", status_code=303, headers=_HEADERS)


def _export_refused(message: str | None, signed: Signed) -> HTMLResponse:
    return _html("error.html", 400, title="Export refused", message=message, signed=signed)


@router.get("/exports/{export_id}")
async def export_detail(request: Request, export_id: str) -> Response:
    return await _page(
        request,
        "export.html",
        lambda conn, project_id: {
            "export": exports.get(conn, project_id=project_id, export_id=export_id)
        },
    )


@router.get("/exports/{export_id}/status")
async def export_status(request: Request, export_id: str) -> Response:
    """What the export page polls for its live status (JSON)."""

    def shape(row: Row) -> dict[str, Any]:
        done = row["status"] == "DONE"
        return {
            "status": row["status"],
            "rows": row["row_count"],
            "download": f"/dashboard/exports/{export_id}/download" if done else None,
        }

    return await _status(
        request,
        lambda conn, project_id: exports.get(conn, project_id=project_id, export_id=export_id),
        shape,
    )


@router.get("/exports/{export_id}/download")
async def export_download(request: Request, export_id: str) -> Response:
    """The CSV, to the signed-in operator (no token in any URL)."""
    signed = await _signed_in(request)
    if signed is None:
        return _to_sign_in()
    project_id = signed.session.project_id
    try:
        row = await run(
            request,
            lambda conn: exports.get(conn, project_id=project_id, export_id=export_id),
            write=False,
        )
        path = exports.file_of(row)
    except TallyError as exc:
        return _html("error.html", 404, title="Not found", message=exc.details, signed=signed)
    return FileResponse(
        path,
        media_type="text/csv",
        filename=f"{export_id}.csv",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/imports")
async def imports_page(request: Request) -> Response:
    return await _page(
        request,
        "imports.html",
        lambda conn, project_id: {"actions": service.recent_actions(conn, project_id=project_id)},
        error=None,
        max_orders=MAX_IMPORT,
    )


@router.post("/imports")
async def start_import(request: Request) -> Response:
    """An uploaded file of orders (JSON, JSON lines or CSV, as `tally orders import` reads),
    queued as POST /v1/orders/import queues it."""
    signed = await _signed_in(request)
    if signed is None:
        return _to_sign_in()
    form = await request.form(max_files=1, max_fields=10)
    csrf = form.get("csrf")
    if not auth.csrf_matches(signed.session, csrf if isinstance(csrf, str) else None):
        return _refused()
    upload = form.get("file")
    project_id = signed.session.project_id

    async def refuse(message: str) -> Response:
        actions = await run(
            request,
            lambda conn: service.recent_actions(conn, project_id=project_id),
            write=False,
        )
        return _html(
            "imports.html",
            400,
            signed=signed,
            actions=actions,
            error=message,
            max_orders=MAX_IMPORT,
        )

    if isinstance(upload, str) or upload is None or not upload.filename:
        return await refuse("Choose a file of orders to import.")
    suffix = Path(upload.filename).suffix.lower()
    name = upload.filename
    data = await upload.read()

    def parse() -> list[OrderCreate] | str:
        """The file's orders checked whole, or what is wrong (CPU work: on a thread)."""
        with tempfile.TemporaryDirectory(prefix="tally-upload-") as directory:
            path = Path(directory) / f"orders{suffix if suffix in _IMPORT_SUFFIXES else ''}"
            path.write_bytes(data)
            try:
                raw = read_orders(path)
            except (OrderFileError, UnicodeDecodeError, ValueError, csv.Error) as exc:
                return f"{name}: {exc}"
        if not raw:
            return f"{name} holds no orders."
        if len(raw) > MAX_IMPORT:
            return f"{name} holds {len(raw):,} orders; at most {MAX_IMPORT:,}."
        try:
            return _ORDERS.validate_python(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            return f"Order {where}: {first['msg']}"

    checked = await anyio.to_thread.run_sync(parse, limiter=runtime_of(request).limiter)
    if isinstance(checked, str):
        return await refuse(checked)
    bodies = checked
    action_id = await run(
        request,
        lambda conn: orders.schedule_import(
            conn,
            project_id=project_id,
            bodies=bodies,
            request_id=request_id_of(request),
            now=utcnow(),
        ),
        write=True,
    )
    runtime = runtime_of(request)
    if runtime.jobs is not None:
        runtime.jobs.wake()
    return RedirectResponse(
        f"/dashboard/async-actions/{action_id}", status_code=303, headers=_HEADERS
    )


@router.get("/async-actions")
async def actions_list(request: Request) -> Response:
    return await _page(
        request,
        "actions.html",
        lambda conn, project_id: {"actions": service.recent_actions(conn, project_id=project_id)},
    )


@router.get("/async-actions/{action_id}")
async def action_detail(request: Request, action_id: str) -> Response:
    return await _page(
        request,
        "action.html",
        lambda conn, project_id: {
            "action": async_actions.get(conn, project_id=project_id, action_id=action_id)
        },
    )


@router.get("/async-actions/{action_id}/status")
async def action_status(request: Request, action_id: str) -> Response:
    """What the async action's page polls for its live progress (JSON)."""

    def shape(row: Row) -> dict[str, Any]:
        result = row["result"] or {}
        return {
            "status": row["status"],
            "progress": row["progress"],
            "done": result.get("done_count"),
            "failed": result.get("failed_count"),
            "message": result.get("message"),
        }

    return await _status(
        request,
        lambda conn, project_id: async_actions.get(
            conn, project_id=project_id, action_id=action_id
        ),
        shape,
    )


@router.get("/settings")
async def settings_page(request: Request) -> Response:
    return await _page(request, "settings.html", lambda conn, project_id: {}, error=None)


@router.post("/settings")
async def save_settings(request: Request) -> Response:
    signed = await _signed_in(request)
    form = await _form(request)
    if signed is None:
        return _to_sign_in()
    if not auth.csrf_matches(signed.session, form.get("csrf")):
        return _refused()
    currency = form.get("currency", "").strip().upper() or None
    if currency is not None and not (
        len(currency) == 3 and currency.isascii() and currency.isalpha()
    ):
        return _html(
            "settings.html", 400, signed=signed, error="A currency is three letters (ISO 4217)."
        )
    project_id = signed.session.project_id
    await run(
        request,
        lambda conn: projects_repository.set_currency(conn, project_id, currency),
        write=True,
    )
    return RedirectResponse("/dashboard/settings", status_code=303, headers=_HEADERS)


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """The stylesheet (no project data: served without a session, so the sign-in form is
    styled too)."""
    path = _STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file():
        return Response(status_code=404)
    return FileResponse(path, headers={"Cache-Control": "max-age=3600"})
