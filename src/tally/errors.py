"""The one error type of the API and its Voucherify JSON form.

Services raise ``TallyError``; the app turns it (and every framework error) into
``{"code", "key", "message", "details", "request_id", ...}``.
"""

from typing import Any

from pydantic import BaseModel


class TallyError(Exception):
    def __init__(
        self,
        status: int,
        key: str,
        message: str,
        details: str | None = None,
        *,
        resource_id: str | None = None,
        resource_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{key}: {details or message}")
        self.status = status
        self.key = key
        self.message = message
        self.details = details
        self.resource_id = resource_id
        self.resource_type = resource_type
        self.headers = headers

    def body(self, request_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.status, "key": self.key, "message": self.message}
        if self.details is not None:
            out["details"] = self.details
        out["request_id"] = request_id
        if self.resource_id is not None:
            out["resource_id"] = self.resource_id
        if self.resource_type is not None:
            out["resource_type"] = self.resource_type
        return out


def not_found(resource_type: str, resource_id: str) -> TallyError:
    return TallyError(
        404,
        "not_found",
        "Resource not found",
        f"Cannot find {resource_type} with id {resource_id}",
        resource_id=resource_id,
        resource_type=resource_type,
    )


def invalid_payload(details: str) -> TallyError:
    return TallyError(400, "invalid_payload", "Invalid payload", details)


def invalid_query(details: str) -> TallyError:
    return TallyError(400, "invalid_query_params", "Invalid query params", details)


def duplicate(resource_type: str, details: str, resource_id: str | None = None) -> TallyError:
    return TallyError(
        409,
        "duplicate_found",
        "Duplicated resource found",
        details,
        resource_id=resource_id,
        resource_type=resource_type,
    )


def multiple_requests(resource_id: str, resource_type: str = "order") -> TallyError:
    """Another in-flight request holds the order session (BEHAVIOR 13.2); it is free again
    within moments, hence Retry-After."""
    return TallyError(
        400,
        "multiple_requests",
        "Multiple requests detected",
        f"{resource_type.capitalize()} {resource_id} is already used by another request",
        resource_id=resource_id,
        resource_type=resource_type,
        headers={"Retry-After": "1"},
    )


def database_busy() -> TallyError:
    """SQLite's write lock stayed with another process longer than the busy timeout."""
    return TallyError(
        503,
        "database_busy",
        "Service unavailable",
        "The database is busy with other writes; retry shortly",
        headers={"Retry-After": "1"},
    )


UNAUTHORIZED = TallyError(401, "unauthorized", "Unauthorized")


class ErrorOut(BaseModel):
    """Voucherify's error object, as every 4xx and 5xx response carries it."""

    code: int
    key: str
    message: str
    details: str | None = None
    request_id: str
    resource_id: str | None = None
    resource_type: str | None = None
