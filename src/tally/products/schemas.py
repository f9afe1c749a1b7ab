"""Product and SKU request bodies and the response shapes documented in /openapi.json."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from tally.common.schemas import (
    LongText,
    Metadata,
    Money,
    ObjectId,
    RequestBody,
    ShortText,
    SourceId,
)

# products.json: ParameterOrder. Only the creation and update dates are product fields; the
# other values are accepted as the spec allows them and sort by creation date (see service).
ProductSort = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "type",
    "-type",
    "code",
    "-code",
    "campaign",
    "-campaign",
    "category",
    "-category",
]

MAX_ATTRIBUTES = 100

# The column is three characters wide (ISO 4217 codes).
Currency = Annotated[str, Field(max_length=3)]
ProductAttributes = Annotated[list[ShortText], Field(max_length=MAX_ATTRIBUTES)]


class ProductFields(RequestBody):
    """products.json: ProductsUpdateRequestBody; prices are typed `integer` there."""

    name: ShortText | None = None
    price: Money | None = None
    attributes: ProductAttributes | None = None
    metadata: Metadata | None = None
    image_url: LongText | None = None


class ProductCreate(ProductFields):
    """products.json: ProductsCreateRequestBody: an upsert by `id` or `source_id`."""

    id: ObjectId | None = None
    source_id: SourceId = None


class ProductUpdate(ProductFields):
    pass


class SkuFields(RequestBody):
    """products.json: ProductsSkusUpdateRequestBody."""

    sku: ShortText | None = None
    price: Money | None = None
    currency: Currency | None = None
    attributes: Metadata | None = None
    image_url: LongText | None = None
    metadata: Metadata | None = None


class SkuCreate(SkuFields):
    """products.json: ProductsSkusCreateRequestBody: an upsert by `id` or `source_id`."""

    id: ObjectId | None = None
    source_id: SourceId = None


class SkuUpdate(SkuFields):
    pass


class SkuOut(BaseModel):
    """Documentation shape of a SKU; responses are built as dicts (see presenter)."""

    id: str
    source_id: str | None
    product_id: str
    sku: str | None
    price: int | None
    currency: str | None
    attributes: dict[str, Any]
    image_url: str | None
    metadata: dict[str, Any]
    created_at: str
    updated_at: str | None
    object: Literal["sku"] = "sku"


class SkusForProductOut(BaseModel):
    object: Literal["list"] = "list"
    data_ref: Literal["data"] = "data"
    data: list[SkuOut]
    total: int


class ProductOut(BaseModel):
    id: str
    source_id: str | None
    name: str | None
    price: int | None
    attributes: list[str]
    metadata: dict[str, Any]
    image_url: str | None
    created_at: str
    updated_at: str | None
    object: Literal["product"] = "product"
    skus: SkusForProductOut


class ProductsListOut(BaseModel):
    object: Literal["list"] = "list"
    data_ref: Literal["products"] = "products"
    products: list[ProductOut]
    total: int


class SkusListOut(BaseModel):
    object: Literal["list"] = "list"
    data_ref: Literal["skus"] = "skus"
    skus: list[SkuOut]
    total: int
