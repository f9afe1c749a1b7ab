"""Response bodies of /v1/async-actions (async-actions.json), for the OpenAPI document."""

from typing import Any, Literal

from pydantic import BaseModel


class AsyncActionOut(BaseModel):
    id: str
    type: str
    status: Literal["ENQUEUED", "IN_PROGRESS", "DONE", "FAILED"]
    operation_status: Literal["FAILED", "SUCCESS", "UNKNOWN"]
    created_at: str
    updated_at: str
    request_id: str | None = None
    processing_time: int
    progress: int
    object: Literal["async_action"]
    result: dict[str, Any] | None = None


class AsyncActionsListOut(BaseModel):
    object: Literal["list"]
    data_ref: Literal["async_actions"]
    async_actions: list[AsyncActionOut]
    has_more: bool
