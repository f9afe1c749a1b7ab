"""Customer request bodies and the response shapes documented in /openapi.json."""

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from tally.common.schemas import Metadata, ObjectId, RequestBody, RequestModel, ShortText, SourceId


class Address(RequestModel):
    city: ShortText | None = None
    state: ShortText | None = None
    line_1: ShortText | None = None
    line_2: ShortText | None = None
    country: ShortText | None = None
    postal_code: ShortText | None = None


class CustomerFields(RequestBody):
    name: ShortText | None = None
    description: ShortText | None = None
    email: ShortText | None = Field(default=None, max_length=320)
    phone: ShortText | None = Field(default=None, max_length=64)
    birthday: date | None = None
    birthdate: date | None = None
    address: Address | None = None
    metadata: Metadata | None = None


class CustomerRef(CustomerFields):
    """A customer as named inside another object: by id or source_id, with fields to upsert."""

    id: ObjectId | None = None
    source_id: SourceId = None


class CustomerCreate(CustomerRef):
    pass


class CustomerUpdate(CustomerFields):
    pass


class CustomerSummaryOrdersOut(BaseModel):
    total_amount: int
    total_count: int
    average_amount: int
    last_order_amount: int
    last_order_date: str | None = None


class CustomerOut(BaseModel):
    """Documentation shape of a customer; responses are built as dicts (see presenter)."""

    id: str
    source_id: str | None = None
    name: str | None = None
    description: str | None = None
    email: str | None = None
    phone: str | None = None
    birthday: str | None = None
    birthdate: str | None = None
    address: dict[str, Any] | None = None
    metadata: dict[str, Any]
    summary: dict[str, Any]
    loyalty: dict[str, Any]
    referrals: dict[str, Any]
    system_metadata: dict[str, Any]
    created_at: str
    updated_at: str | None = None
    object: Literal["customer"] = "customer"


class CustomersListOut(BaseModel):
    object: Literal["list"] = "list"
    data_ref: Literal["customers"] = "customers"
    customers: list[CustomerOut]
    total: int
    has_more: bool
