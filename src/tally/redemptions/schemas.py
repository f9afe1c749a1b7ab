"""Redemption and rollback request bodies (redemptions.json)."""

from typing import Any

from pydantic import BaseModel, model_validator

from tally.common.schemas import Metadata, ObjectId, RequestBody, ShortText
from tally.customers.schemas import CustomerRef
from tally.customers.tables import CUSTOMER_ID_PREFIX
from tally.orders.schemas import OrderCreate
from tally.validations.schemas import ValidationRequest, refuse_sessions_and_cards


class RedemptionRequest(ValidationRequest):
    """POST /v1/redemptions (RedemptionsRedeemRequestBody): the same fields as a
    validation."""


class OneRedemptionRequest(RequestBody):
    """The one-redeemable bodies (7_req_redeem_voucher, 7_req_redeem_promotion_tier).
    ``customer`` may be a plain string: the customer's id or source_id (BEHAVIOR 8.8)."""

    customer: CustomerRef | ObjectId | None = None
    order: OrderCreate | None = None
    metadata: Metadata | None = None
    tracking_id: ShortText | None = None

    _refused = model_validator(mode="before")(refuse_sessions_and_cards)

    def customer_ref(self) -> CustomerRef | None:
        if isinstance(self.customer, str):
            key = "id" if self.customer.startswith(f"{CUSTOMER_ID_PREFIX}_") else "source_id"
            return CustomerRef.model_validate({key: self.customer})
        return self.customer


class VoucherRedemptionRequest(OneRedemptionRequest):
    """POST /v1/vouchers/{code}/redemption."""


class TierRedemptionRequest(OneRedemptionRequest):
    """POST /v1/promotions/tiers/{id}/redemption."""


class RollbackRequest(RequestBody):
    """Both rollback endpoints (RedemptionsRollbackCreateRequestBody)."""

    reason: ShortText | None = None
    tracking_id: ShortText | None = None
    customer: CustomerRef | None = None
    order: OrderCreate | None = None
    metadata: Metadata | None = None


class RedemptionOut(BaseModel):
    """Documentation shape (redemptions.json: Redemption); responses are built as dicts
    (see presenter)."""

    id: str
    object: str
    date: str
    customer_id: str | None
    tracking_id: str | None
    metadata: dict[str, Any] | None
    redemption: str | None
    result: str
    status: str
    order: dict[str, Any] | None
    channel: dict[str, Any]
    customer: dict[str, Any] | None
    related_object_type: str
    related_object_id: str


class RedeemOut(BaseModel):
    """Documentation shape (redemptions.json: RedemptionsRedeemResponseBody)."""

    redemptions: list[RedemptionOut]
    parent_redemption: RedemptionOut | None = None
    order: dict[str, Any]


class RollbacksOut(BaseModel):
    """Documentation shape (redemptions.json: RedemptionsRollbacksCreateResponseBody)."""

    rollbacks: list[RedemptionOut]
    parent_rollback: RedemptionOut | None = None
    order: dict[str, Any]


class RedemptionsListOut(BaseModel):
    """Documentation shape (redemptions.json: RedemptionsListResponseBody)."""

    object: str = "list"
    data_ref: str = "redemptions"
    redemptions: list[RedemptionOut]
    total: int
