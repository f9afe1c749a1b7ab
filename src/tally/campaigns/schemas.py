"""Campaign request bodies (campaigns.json: CampaignsCreateDiscountCouponsCampaign,
CampaignsVouchersCreateRequestBody) and the response shape documented in /openapi.json."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from tally.common.schemas import LongText, Metadata, Moment, ObjectId, RequestBody, RequestModel
from tally.promotions.schemas import PromotionIn
from tally.vouchers.schemas import (
    CodeConfigIn,
    DayOfWeek,
    DiscountIn,
    RedemptionIn,
    ValidityHours,
    ValidityTimeframe,
)

# Codes made at campaign creation, in its transaction. More would be a bulk job: those
# are not built yet (async actions).
MAX_VOUCHERS_AT_CREATION = 1000

CampaignName = Annotated[str, Field(min_length=1, max_length=255)]


class CampaignVoucherIn(RequestModel):
    """campaigns.json: DiscountCouponsCampaignVoucher."""

    type: Literal["DISCOUNT_VOUCHER"] = "DISCOUNT_VOUCHER"
    discount: DiscountIn
    code_config: CodeConfigIn | None = None
    redemption: RedemptionIn | None = None


_NOT_BUILT = {
    "category": "categories",
    "category_id": "categories",
    "activity_duration_after_publishing": "publications",
    "access_settings": "access settings",
}


class CampaignCreate(RequestBody):
    name: CampaignName
    campaign_type: Literal[
        "DISCOUNT_COUPONS", "PROMOTION", "GIFT_VOUCHERS", "LOYALTY_PROGRAM", "REFERRAL_PROGRAM"
    ]
    type: Literal["AUTO_UPDATE", "STATIC"] = "AUTO_UPDATE"
    voucher: CampaignVoucherIn | None = None
    promotion: PromotionIn | None = None
    join_once: bool = False
    auto_join: bool = False
    use_voucher_metadata_schema: bool = False
    vouchers_count: Annotated[int, Field(ge=0)] | None = None
    # At most one rule, assigned to the campaign as it is made (BEHAVIOR 16.8).
    validation_rules: Annotated[list[ObjectId], Field(max_length=1)] | None = None
    start_date: Moment | None = None
    expiration_date: Moment | None = None
    validity_timeframe: ValidityTimeframe | None = None
    validity_day_of_week: Annotated[list[DayOfWeek], Field(max_length=7)] | None = None
    validity_hours: ValidityHours | None = None
    metadata: Metadata | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_unbuilt(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, part in _NOT_BUILT.items():
                if data.get(key) not in (None, ""):
                    raise ValueError(f"Property .{key}: {part} are not supported by Tally yet")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "CampaignCreate":
        if self.campaign_type not in ("DISCOUNT_COUPONS", "PROMOTION"):
            raise ValueError(
                f"Property .campaign_type: {self.campaign_type} campaigns are not supported "
                "by Tally yet"
            )
        if self.campaign_type == "DISCOUNT_COUPONS" and self.voucher is None:
            raise ValueError("Property .voucher is required for a DISCOUNT_COUPONS campaign")
        if self.campaign_type == "PROMOTION" and (self.voucher or self.vouchers_count):
            raise ValueError(
                "Property .voucher: a PROMOTION campaign has tiers (.promotion.tiers), not vouchers"
            )
        if (self.vouchers_count or 0) > MAX_VOUCHERS_AT_CREATION:
            raise ValueError(
                f"Property .vouchers_count: more than {MAX_VOUCHERS_AT_CREATION} codes at once "
                "need a bulk job, which Tally does not have yet"
            )
        if self.start_date and self.expiration_date and self.expiration_date < self.start_date:
            raise ValueError("Property .expiration_date must not be before start_date")
        return self


class CampaignVoucherCreate(RequestBody):
    """campaigns.json: CampaignsVouchersCreateRequestBody: what this voucher sets over the
    campaign's template."""

    metadata: Metadata | None = None
    redemption: RedemptionIn | None = None
    additional_info: LongText | None = None
    start_date: Moment | None = None
    expiration_date: Moment | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_unbuilt(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("category") not in (None, ""):
            raise ValueError("Property .category: categories are not supported by Tally yet")
        return data


class CampaignOut(BaseModel):
    """Documentation shape of a campaign (campaigns.json: Campaign); responses are built as
    dicts (see presenter)."""

    id: str
    name: str
    campaign_type: str
    type: str
    voucher: dict[str, Any] | None = None
    promotion: dict[str, Any] | None = None
    auto_join: bool
    join_once: bool
    use_voucher_metadata_schema: bool
    vouchers_count: int
    active: bool
    metadata: dict[str, Any]
    created_at: str
    creation_status: str
    vouchers_generation_status: str
    protected: bool
    category_id: str | None
    categories: list[dict[str, Any]]
    object: Literal["campaign"] = "campaign"
