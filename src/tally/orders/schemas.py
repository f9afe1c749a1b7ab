"""Order request bodies (OrderBase and friends) and the documented response shapes."""

from typing import Any, Literal

from pydantic import BaseModel, Field

from tally.common.schemas import (
    Metadata,
    Moment,
    Money,
    ObjectId,
    Price,
    Quantity,
    RequestBody,
    RequestModel,
    ShortText,
    SourceId,
)
from tally.customers.schemas import CustomerRef

OrderStatus = Literal["CREATED", "PAID", "CANCELED", "FULFILLED"]
OrderSort = Literal["created_at", "-created_at", "updated_at", "-updated_at"]
MAX_ITEMS = 500


class ItemProduct(RequestModel):
    id: ObjectId | None = None
    source_id: SourceId = None
    override: bool | None = None
    name: ShortText | None = None
    metadata: Metadata | None = None
    price: Price | None = None


class ItemSku(RequestModel):
    id: ObjectId | None = None
    source_id: SourceId = None
    override: bool | None = None
    sku: ShortText | None = None
    metadata: Metadata | None = None
    price: Price | None = None


class OrderItemIn(RequestModel):
    sku_id: ObjectId | None = None
    product_id: ObjectId | None = None
    related_object: Literal["product", "sku"] | None = None
    source_id: SourceId = None
    quantity: Quantity | None = None
    amount: Money | None = None
    price: Money | None = None
    product: ItemProduct | None = None
    sku: ItemSku | None = None
    metadata: Metadata | None = None
    # Discount and "initial" figures are derived by Tally; accepted for compatibility with
    # clients that echo an order back, never written from the request.
    discount_quantity: Quantity | None = None
    initial_quantity: Quantity | None = None
    discount_amount: Money | None = None
    initial_amount: Money | None = None


class OrderFields(RequestBody):
    source_id: SourceId = None
    status: OrderStatus | None = None
    amount: Money | None = None
    items: list[OrderItemIn] | None = Field(default=None, max_length=MAX_ITEMS)
    metadata: Metadata | None = None
    created_at: Moment | None = None
    referrer_id: ObjectId | None = None
    customer: CustomerRef | None = None
    referrer: CustomerRef | None = None
    # Derived by Tally (see OrderItemIn).
    initial_amount: Money | None = None
    discount_amount: Money | None = None


class OrderCreate(OrderFields):
    id: ObjectId | None = None


class OrderUpdate(OrderFields):
    pass


# Orders one import may carry (BEHAVIOR 17.2).
MAX_IMPORT = 2000


class ImportOut(BaseModel):
    async_action_id: str


class LinkOut(BaseModel):
    id: str
    object: Literal["customer"] = "customer"


class OrderItemOut(BaseModel):
    id: str
    sku_id: str | None = None
    product_id: str | None = None
    related_object: Literal["product", "sku"] | None = None
    source_id: str | None = None
    quantity: int | None = None
    discount_quantity: int | None = None
    initial_quantity: int | None = None
    amount: int
    discount_amount: int
    initial_amount: int
    price: int | None = None
    subtotal_amount: int
    product: dict[str, Any] | None = None
    sku: dict[str, Any] | None = None
    object: Literal["order_item"] = "order_item"
    metadata: dict[str, Any] | None = None


class OrderOut(BaseModel):
    """Documentation shape of an order (OrderCalculated); responses are built as dicts."""

    id: str
    source_id: str | None
    created_at: str
    updated_at: str | None
    status: OrderStatus
    amount: int
    initial_amount: int
    discount_amount: int
    items_discount_amount: int
    total_discount_amount: int
    total_amount: int
    items: list[OrderItemOut]
    metadata: dict[str, Any]
    customer: LinkOut | None = None
    customer_id: str | None
    referrer: LinkOut | None = None
    referrer_id: str | None
    object: Literal["order"] = "order"
    redemptions: dict[str, Any]


class OrdersListOut(BaseModel):
    object: Literal["list"] = "list"
    data_ref: Literal["orders"] = "orders"
    orders: list[OrderOut]
    total: int
