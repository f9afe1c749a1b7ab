"""Promotion tier bodies (promotions.json: PromotionTierCreate; campaigns.json:
PromotionTierCreateParams) and the response shapes documented in /openapi.json."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from tally.common.schemas import LongText, Metadata, Moment, ObjectId, RequestBody, RequestModel
from tally.vouchers.schemas import DayOfWeek, DiscountIn, ValidityHours, ValidityTimeframe

# Tiers a promotion campaign may be created with at once.
MAX_TIERS = 100


class TierAction(RequestModel):
    discount: DiscountIn


class TierCreate(RequestBody):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    banner: LongText | None = None
    action: TierAction
    metadata: Metadata | None = None
    active: bool | None = None
    hierarchy: Annotated[int, Field(ge=0, le=10**6)] | None = None
    start_date: Moment | None = None
    expiration_date: Moment | None = None
    validity_timeframe: ValidityTimeframe | None = None
    validity_day_of_week: Annotated[list[DayOfWeek], Field(max_length=7)] | None = None
    validity_hours: ValidityHours | None = None
    # Rules assigned to the tier as it is made (BEHAVIOR 16.8).
    validation_rules: Annotated[list[ObjectId], Field(max_length=10)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_unbuilt(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("category", "category_id"):
                if data.get(key) not in (None, ""):
                    raise ValueError(f"Property .{key}: categories are not supported by Tally yet")
            if data.get("validation_rule_assignments"):
                raise ValueError(
                    "Property .validation_rule_assignments: send validation_rules (rule ids)"
                )
        return data

    @model_validator(mode="after")
    def _dates(self) -> "TierCreate":
        if self.start_date and self.expiration_date and self.expiration_date < self.start_date:
            raise ValueError("Property .expiration_date must not be before start_date")
        return self


class PromotionIn(RequestModel):
    tiers: Annotated[list[TierCreate], Field(max_length=MAX_TIERS)] | None = None


class TierOut(BaseModel):
    """Documentation shape of a promotion tier (promotions.json: PromotionTier); responses
    are built as dicts (see presenter)."""

    id: str
    name: str
    banner: str | None = None
    action: dict[str, Any]
    metadata: dict[str, Any]
    hierarchy: int
    promotion_id: str
    campaign: dict[str, Any]
    campaign_id: str
    active: bool
    created_at: str
    summary: dict[str, Any]
    object: Literal["promotion_tier"] = "promotion_tier"


class TiersListOut(BaseModel):
    object: Literal["list"] = "list"
    data_ref: Literal["tiers"] = "tiers"
    tiers: list[TierOut]
    total: int
    has_more: bool
