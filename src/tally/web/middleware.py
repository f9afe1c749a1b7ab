"""Raw ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware on every request):
request ids, the body size limit, the content-type check and one JSON access-log line."""

import logging
import time
from typing import Any

import orjson
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tally.ids import request_id as new_request_id
from tally.metrics import registry as metrics

access_log = logging.getLogger("tally.access")

_JSON_TYPES = (b"application/json", b"text/json")


def _error(status: int, key: str, message: str, details: str, rid: str) -> bytes:
    return orjson.dumps(
        {"code": status, "key": key, "message": message, "details": details, "request_id": rid}
    )


_BULK_PATHS = frozenset({"/v1/orders/import", "/dashboard/imports"})


class RequestMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, bulk_body_bytes: int | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Bulk endpoints (an import of 2,000 orders) take more than one object's worth.
        self.bulk_body_bytes = bulk_body_bytes or max_body_bytes

    def _limit(self, scope: Scope) -> int:
        return self.bulk_body_bytes if scope["path"] in _BULK_PATHS else self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status_holder = [500]
        rid_header = (b"x-request-id", rid.encode())

        state = scope["state"]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                # Headers the request's handling asked for (its project's rate limit).
                extra = state.get("extra_headers", ())
                message["headers"] = [*message.get("headers", []), rid_header, *extra]
            await send(message)

        metrics.http_in_flight.inc()
        try:
            rejection = self._reject(scope, rid)
            if rejection is not None:
                status, body = rejection
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send_with_id({"type": "http.response.body", "body": body})
                return
            await self.app(scope, self._limited(receive, rid, self._limit(scope)), send_with_id)
        finally:
            metrics.http_in_flight.dec()
            seconds = time.perf_counter() - started
            route = scope.get("route")
            # The route's template, never the raw path: ids in paths would make a series
            # per order.
            metrics.observe_request(
                scope["method"],
                route.path if route is not None else "unmatched",
                status_holder[0],
                seconds,
            )
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "request",
                    extra={
                        "request_id": rid,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status_holder[0],
                        "duration_ms": round(seconds * 1000, 2),
                    },
                )

    def _reject(self, scope: Scope, rid: str) -> tuple[int, bytes] | None:
        # A NUL can name nothing, and PostgreSQL refuses it in any text: answer before it
        # gets anywhere near a query.
        if "\x00" in scope["path"]:
            return 404, _error(
                404, "not_found", "Resource not found", "Cannot find a resource with that id", rid
            )
        query = scope.get("query_string", b"")
        if b"\x00" in query or b"%00" in query.lower():
            return 400, _error(
                400,
                "invalid_query_params",
                "Invalid query params",
                "Query parameters cannot contain the NUL character",
                rid,
            )
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                return 400, _error(
                    400, "invalid_payload", "Invalid payload", "Content-Length is not a number", rid
                )
            if size > self._limit(scope):
                return 413, _too_large(self._limit(scope), rid)
            if size == 0:
                return None
        elif b"transfer-encoding" not in headers:
            return None
        if scope["method"] in ("POST", "PUT", "PATCH"):
            ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if (
                ctype not in _JSON_TYPES
                and not ctype.endswith(b"+json")
                and not (ctype.startswith(b"multipart/") and scope["path"].endswith("importCSV"))
                # The dashboard's HTML forms.
                and not (
                    ctype in (b"application/x-www-form-urlencoded", b"multipart/form-data")
                    and scope["path"].startswith("/dashboard/")
                )
            ):
                shown = ctype.decode("latin-1") or "none"
                return 415, _error(
                    415,
                    "unsupported_media_type",
                    "Unsupported Media Type",
                    f"Content-Type {shown} is not supported; send application/json",
                    rid,
                )
        return None

    def _limited(self, receive: Receive, rid: str, limit: int) -> Receive:
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return limited_receive


class BodyTooLarge(HTTPException):
    """Raised while the body streams in; an HTTPException so that FastAPI's body reader
    passes it through to the error handlers instead of calling it a parse error."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body cannot be larger than {limit} bytes")


def _too_large(limit: int, rid: str) -> bytes:
    return _error(
        413,
        "query_too_large",
        "Request Entity Too Large",
        f"Request body cannot be larger than {limit} bytes",
        rid,
    )


# (second, its formatted text), swapped as one tuple so threads never see half an update.
_second: list[tuple[int, str]] = [(-1, "")]


def _log_time(created: float, msecs: float) -> str:
    # One access line per request: format the second once, not on every line.
    whole = int(created)
    cached = _second[0]
    if cached[0] != whole:
        cached = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
        _second[0] = cached
    return f"{cached[1]}.{int(msecs):03d}Z"


def json_log_record(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "time": _log_time(record.created, record.msecs),
        "level": record.levelname,
        "logger": record.name,
        "message": record.getMessage(),
    }
    for key in ("request_id", "method", "path", "status", "duration_ms"):
        if key in record.__dict__:
            out[key] = record.__dict__[key]
    if record.exc_info:
        out["exception"] = logging.Formatter().formatException(record.exc_info)
    return out


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return orjson.dumps(json_log_record(record)).decode()
