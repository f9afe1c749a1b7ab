"""Webhook endpoint bodies (a Tally extension: Voucherify configures these in its dashboard)
and the response shapes."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from tally.common.schemas import RequestBody
from tally.webhooks.addresses import MAX_URL_LENGTH

EventName = Annotated[str, Field(min_length=1, max_length=64)]
Url = Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]


class WebhookCreate(RequestBody):
    url: Url
    # The event types to send; ["*"] for all of them.
    events: Annotated[list[EventName], Field(min_length=1, max_length=50)]


class WebhookUpdate(RequestBody):
    url: Url | None = None
    events: Annotated[list[EventName], Field(min_length=1, max_length=50)] | None = None
    # true: take deliveries again after being disabled for failing.
    active: bool | None = None


class WebhookOut(BaseModel):
    id: str
    object: Literal["webhook"]
    url: str
    events: list[str]
    active: bool
    disabled_reason: str | None
    created_at: str
    updated_at: str | None
    secret: str | None = Field(default=None, description="Shown only in the create response.")


class WebhooksListOut(BaseModel):
    object: Literal["list"]
    data_ref: Literal["webhooks"]
    webhooks: list[WebhookOut]
    total: int


class DeliveryAttemptOut(BaseModel):
    at: str
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: str
    object: Literal["webhook_delivery"]
    webhook_id: str
    event: dict[str, Any]
    status: Literal["PENDING", "SUCCEEDED", "FAILED"]
    attempts: int
    next_attempt_at: str | None
    created_at: str
    finished_at: str | None
    log: list[DeliveryAttemptOut]


class DeliveriesListOut(BaseModel):
    object: Literal["list"]
    data_ref: Literal["deliveries"]
    deliveries: list[DeliveryOut]
    total: int
