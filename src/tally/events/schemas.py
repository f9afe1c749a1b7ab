"""Response shapes of GET /v1/events (a Tally extension) and the customer activity."""

from typing import Any, Literal

from pydantic import BaseModel


class EventOut(BaseModel):
    id: str
    object: Literal["event"]
    type: str
    created_at: str
    entity_id: str
    order_id: str | None
    customer_id: str | None
    sequence: int | None
    group_id: str | None
    event_source: dict[str, Any]
    data: dict[str, Any]


class EventsListOut(BaseModel):
    object: Literal["list"]
    data_ref: Literal["events"]
    events: list[EventOut]
    has_more: bool


class ActivityOut(BaseModel):
    id: str
    type: str
    data: dict[str, Any]
    created_at: str
    group_id: str | None


class ActivityListOut(BaseModel):
    object: Literal["list"]
    data_ref: Literal["data"]
    data: list[ActivityOut]
    has_more: bool
    more_starting_after: str | None = None
