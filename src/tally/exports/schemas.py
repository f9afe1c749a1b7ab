"""Export request bodies (exports.json, orders.json create-order-export) and the documented
response shapes."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from tally.common.schemas import RequestModel

MAX_FIELDS = 100
FieldName = Annotated[str, Field(min_length=1, max_length=300)]


class ExportParameters(RequestModel):
    order: Annotated[str, Field(max_length=40)] | None = None
    fields: Annotated[list[FieldName], Field(max_length=MAX_FIELDS)] | None = None
    filters: dict[str, Any] | None = None


class OrdersExportCreate(RequestModel):
    parameters: ExportParameters | None = None


class ExportCreate(RequestModel):
    exported_object: Annotated[str, Field(max_length=40)]
    parameters: ExportParameters | None = None


class ExportResult(BaseModel):
    url: str


class ExportOut(BaseModel):
    id: str
    object: Literal["export"]
    created_at: str
    status: Literal["SCHEDULED", "IN_PROGRESS", "DONE", "ERROR"]
    channel: str
    exported_object: str
    parameters: dict[str, Any]
    result: ExportResult | None
    user_id: str | None


class ExportsListOut(BaseModel):
    object: Literal["list"]
    data_ref: Literal["exports"]
    exports: list[ExportOut]
    total: int
