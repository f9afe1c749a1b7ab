"""Every error the app can produce, framework ones included, as Voucherify's error JSON."""

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import compile_path

from tally.common.schemas import StorableJSONError
from tally.errors import TallyError
from tally.metrics import registry as metrics
from tally.web.responses import JSON

log = logging.getLogger("tally.errors")


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "v-000000000000000000"))


def error_response(request: Request, error: TallyError) -> Response:
    return JSON(error.body(request_id_of(request)), status_code=error.status, headers=error.headers)


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, str) and part.isupper():
            # A tagged union's tag (discount type AMOUNT, PERCENT...): pydantic puts it in
            # the path, the client never wrote it. API field names are all lower case.
            continue
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _problem(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "should be integer"
    if kind in ("greater_than_equal",):
        return f"cannot be lower than {ctx.get('ge')}"
    if kind in ("less_than_equal",):
        return f"cannot be greater than {ctx.get('le')}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "should be object"
    if kind == "list_type":
        return "should be array"
    if kind in ("string_type",):
        return "should be string"
    if kind in ("bool_type", "bool_parsing"):
        return "should be boolean"
    if kind == "too_long":
        return f"should not have more than {ctx.get('max_length')} items"
    if kind == "string_too_long":
        return f"should not be longer than {ctx.get('max_length')} characters"
    if kind == "enum" or kind == "literal_error":
        return f"should be one of {ctx.get('expected')}"
    if kind == "union_tag_invalid":
        return f"type should be one of {ctx.get('expected_tags')}"
    if kind == "value_error" and ctx.get("error") is not None:
        return str(ctx["error"])
    message = str(err.get("msg", "is invalid"))
    return message[0].lower() + message[1:] if message else "is invalid"


def validation_details(exc: RequestValidationError) -> tuple[bool, str]:
    """(is the body at fault, details naming each offending property)."""
    parts: list[str] = []
    in_body = False
    for err in exc.errors()[:5]:
        loc = tuple(err.get("loc", ()))
        where = loc[0] if loc else "body"
        if where == "body":
            in_body = True
            if err.get("type") == "json_invalid":
                parts.append(f"Invalid JSON: {err.get('ctx', {}).get('error', 'malformed')}")
                continue
            if len(loc) == 1 and err.get("type") == "missing":
                parts.append("Request body is required")
                continue
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, StorableJSONError):
                parts.append(str(cause))
                continue
            path = _path(loc[1:])
            if err.get("type") == "value_error" and not path:
                # A rule over the whole body: its message names the properties itself.
                parts.append(_problem(err))
                continue
            parts.append(f"Property {path or '.'} {_problem(err)}")
        else:
            name = ".".join(str(p) for p in loc[1:]) or str(where)
            parts.append(f"Property .{name} {_problem(err)}")
    return in_body, "; ".join(dict.fromkeys(parts))


_HTTP_ERRORS = {
    400: ("invalid_payload", "Invalid payload"),
    401: ("unauthorized", "Unauthorized"),
    404: ("not_found", "Resource not found"),
    405: ("method_not_allowed", "HTTP Method Not Allowed"),
    406: ("not_acceptable", "Not Acceptable"),
    413: ("query_too_large", "Request Entity Too Large"),
    415: ("unsupported_media_type", "Unsupported Media Type"),
}


def _allowed_methods(request: Request) -> list[str]:
    """Every method the API serves at this path (Starlette names only the first route's),
    read from the app's own OpenAPI document."""
    table: list[tuple[re.Pattern[str], list[str]]] | None = getattr(
        request.app.state, "allowed_methods", None
    )
    if table is None:
        table = []
        for template, operations in request.app.openapi()["paths"].items():
            regex, _, _ = compile_path(template)
            table.append((regex, sorted(m.upper() for m in operations)))
        request.app.state.allowed_methods = table
    path = request.url.path
    return sorted({m for regex, methods in table if regex.match(path) for m in methods})


# Refusals an operator watches for: contention on orders, on SQLite's write lock, and
# projects held to their rate limit.
_REFUSALS = {
    "multiple_requests": metrics.multiple_requests,
    "database_busy": metrics.database_busy,
    "too_many_requests": metrics.rate_limited,
}


def install(app: FastAPI) -> None:
    @app.exception_handler(TallyError)
    async def _tally(request: Request, exc: TallyError) -> Response:
        refusals = _REFUSALS.get(exc.key)
        if refusals is not None:
            refusals.inc()
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        in_body, details = validation_details(exc)
        if in_body:
            error = TallyError(400, "invalid_payload", "Invalid payload", details)
        else:
            error = TallyError(400, "invalid_query_params", "Invalid query params", details)
        return error_response(request, error)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        key, message = _HTTP_ERRORS.get(exc.status_code, ("error", "Error"))
        if exc.status_code == 404:
            details = f"Cannot find route {request.method} {request.url.path}"
        elif exc.status_code == 405:
            allowed = _allowed_methods(request)
            details = f"{request.method} is not supported by this endpoint."
            if allowed:
                details += f" Did you mean {' or '.join(allowed)}?"
                exc.headers = {**(exc.headers or {}), "Allow": ", ".join(allowed)}
        else:
            details = str(exc.detail)
        error = TallyError(
            exc.status_code, key, message, details, headers=dict(exc.headers or {}) or None
        )
        return error_response(request, error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # The trace goes to the log under the request id, never to the client.
        log.error(
            "unhandled error",
            exc_info=(type(exc), exc, exc.__traceback__),
            extra={"request_id": request_id_of(request)},
        )
        error = TallyError(
            500,
            "internal_error",
            "Internal Server Error",
            f"An internal error occurred; quote request id {request_id_of(request)}",
        )
        return error_response(request, error)
