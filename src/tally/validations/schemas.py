"""POST /v1/validations request body (validations.json: ValidationsValidateRequestBody)."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from tally.common.schemas import Metadata, ObjectId, RequestBody, RequestModel, ShortText
from tally.customers.schemas import CustomerRef
from tally.orders.schemas import OrderCreate

# BEHAVIOR 10.1: 1 to 30 redeemables a request.
MAX_REDEEMABLES = 30


class RedeemableIn(RequestModel):
    object: Literal["voucher", "promotion_tier", "promotion_stack"]
    id: ObjectId

    @model_validator(mode="before")
    @classmethod
    def _no_cards(cls, data: Any) -> Any:
        # Gift credits and loyalty rewards are not built (BEHAVIOR 10.2: LATER).
        if isinstance(data, dict):
            for key in ("gift", "reward"):
                if data.get(key) is not None:
                    raise ValueError(
                        f"{key}: gift and loyalty cards are not supported by Tally yet"
                    )
        return data


class ExpandOptions(RequestModel):
    expand: list[Literal["order", "redemption", "redeemable", "category"]] | None = None


# Work this size or smaller (order lines x redeemables) runs on the event loop on SQLite:
# a few milliseconds at most. A 500-line order with 30 redeemables would hold the loop for
# tens, so larger requests go to a worker thread like any long work.
QUICK_WORK = 100


class ValidationRequest(RequestBody):
    redeemables: Annotated[list[RedeemableIn], Field(min_length=1, max_length=MAX_REDEEMABLES)]
    order: OrderCreate | None = None
    customer: CustomerRef | None = None
    tracking_id: ShortText | None = None
    metadata: Metadata | None = None
    options: ExpandOptions | None = None

    @property
    def quick(self) -> bool:
        lines = len(self.order.items or []) if self.order is not None else 0
        return max(lines, 1) * len(self.redeemables) <= QUICK_WORK

    @model_validator(mode="before")
    @classmethod
    def _no_session(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("session") is not None:
            raise ValueError(
                "Property .session: validation sessions are not supported by Tally yet"
            )
        return data


def refuse_sessions_and_cards(data: Any) -> Any:
    """A one-redeemable body's ``session``, ``gift`` and ``reward``: not built yet, so
    refused by name rather than ignored."""
    if isinstance(data, dict):
        if data.get("session") is not None:
            raise ValueError(
                "Property .session: validation sessions are not supported by Tally yet"
            )
        for key in ("gift", "reward"):
            if data.get(key) is not None:
                raise ValueError(
                    f"Property .{key}: gift and loyalty cards are not supported by Tally yet"
                )
    return data


class VoucherValidationRequest(RequestBody):
    """POST /v1/vouchers/{code}/validate (VouchersValidateDiscountRequestBody)."""

    customer: CustomerRef | None = None
    order: OrderCreate | None = None
    tracking_id: ShortText | None = None
    metadata: Metadata | None = None

    _refused = model_validator(mode="before")(refuse_sessions_and_cards)


class ValidationOut(BaseModel):
    """Documentation shape (validations.json: ValidationsValidateResponseBody); responses
    are built as dicts (see presenter)."""

    id: str
    valid: bool
    redeemables: list[dict[str, Any]]
    order: dict[str, Any]
    tracking_id: str | None = None
    stacking_rules: dict[str, Any]


class VoucherValidationOut(BaseModel):
    """Documentation shape (validations.json: VouchersValidateResponseBody)."""

    valid: bool
    code: str
    order: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
