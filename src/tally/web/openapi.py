"""The app's OpenAPI document, with the error responses Tally really sends.

FastAPI documents a 422 for every operation; Tally never answers 422 (validation errors are
Voucherify's 400 `invalid_payload` / `invalid_query_params`). Each operation instead lists
the errors it can return, all as the one error object."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from tally.errors import ErrorOut

_ERROR_REF = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Error"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                if path == "/health":
                    continue
                responses["400"] = _error("Invalid payload or query parameters")
                responses["401"] = _error("Missing or wrong X-App-Id / X-App-Token")
                responses["404"] = _error("Resource not found")
                if "requestBody" in operation:
                    responses["409"] = _error("Duplicated resource found")
                    responses["413"] = _error("Request body too large")
                    responses["415"] = _error("Content-Type is not JSON")
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
