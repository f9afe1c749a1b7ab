"""Voucher request bodies (vouchers.json: VoucherCreateDiscount*, CodeConfig) and the
response shape documented in /openapi.json."""

import re
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    StrictInt,
    Tag,
    field_validator,
    model_validator,
)

from tally.common.schemas import (
    LongText,
    Metadata,
    Moment,
    Money,
    ObjectId,
    Price,
    RequestBody,
    RequestModel,
)
from tally.vouchers.codes import MAX_CODE_LENGTH
from tally.vouchers.eligibility import fixed_duration

AmountEffect = Literal[
    "APPLY_TO_ORDER",
    "APPLY_TO_ITEMS",
    "APPLY_TO_ITEMS_PROPORTIONALLY",
    "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY",
    "APPLY_TO_ITEMS_BY_QUANTITY",
]
OrderOrItems = Literal["APPLY_TO_ORDER", "APPLY_TO_ITEMS"]

Code = Annotated[str, Field(min_length=1, max_length=MAX_CODE_LENGTH)]
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=12, decimal_places=6)]
DayOfWeek = Annotated[int, Field(ge=0, le=6)]

# Free units a UNIT discount gives of one product, and products one discount may name.
MAX_UNITS = 1000
MAX_UNIT_KINDS = 30

_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


class _DiscountIn(RequestModel):
    @model_validator(mode="before")
    @classmethod
    def _no_formulas(cls, data: Any) -> Any:
        # Formulas are not built (BEHAVIOR 11.1): refuse them rather than ignore them.
        if isinstance(data, dict):
            for key, value in data.items():
                if isinstance(key, str) and key.endswith("_formula") and value is not None:
                    raise ValueError(f"{key} is not supported by Tally yet")
        return data


class AmountDiscountIn(_DiscountIn):
    type: Literal["AMOUNT"]
    amount_off: Price
    aggregated_amount_limit: Money | None = None
    # No effect (or null, as the SDKs send it): APPLY_TO_ORDER (BEHAVIOR 11.2).
    effect: AmountEffect | None = None


class PercentDiscountIn(_DiscountIn):
    type: Literal["PERCENT"]
    percent_off: Percent
    amount_limit: Price | None = None
    aggregated_amount_limit: Money | None = None
    effect: OrderOrItems | None = None


class FixedDiscountIn(_DiscountIn):
    type: Literal["FIXED"]
    fixed_amount: Price
    effect: OrderOrItems | None = None


def _whole_units(value: Any) -> Any:
    # The dashboard and the guides send unit_off as 1.0.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


UnitOff = Annotated[StrictInt, BeforeValidator(_whole_units), Field(ge=1, le=MAX_UNITS)]
UnitEffect = Literal["ADD_MISSING_ITEMS", "ADD_NEW_ITEMS"]


class OneUnitIn(_DiscountIn):
    """Free units of one product (DiscountUnitMultipleOneUnit); ``unit_type`` is the
    product's Tally id."""

    unit_off: UnitOff
    unit_type: ObjectId
    # No effect: ADD_MISSING_ITEMS (BEHAVIOR 11.2).
    effect: UnitEffect | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_sku(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("sku") is not None:
            raise ValueError("free units of a SKU are not supported by Tally yet")
        return data


class UnitDiscountIn(OneUnitIn):
    type: Literal["UNIT"]


class ManyUnitsDiscountIn(_DiscountIn):
    type: Literal["UNIT"]
    effect: Literal["ADD_MANY_ITEMS"]
    units: Annotated[list[OneUnitIn], Field(min_length=1, max_length=MAX_UNIT_KINDS)]


def _unit_kind(data: Any) -> str:
    if isinstance(data, dict):
        return "MANY_PRODUCTS" if data.get("effect") == "ADD_MANY_ITEMS" else "ONE_PRODUCT"
    return "MANY_PRODUCTS" if getattr(data, "effect", None) == "ADD_MANY_ITEMS" else "ONE_PRODUCT"


UnitDiscounts = Annotated[
    Annotated[UnitDiscountIn, Tag("ONE_PRODUCT")]
    | Annotated[ManyUnitsDiscountIn, Tag("MANY_PRODUCTS")],
    Discriminator(_unit_kind),
]


def _discount_type(data: Any) -> str | None:
    value = data.get("type") if isinstance(data, dict) else getattr(data, "type", None)
    return value if isinstance(value, str) else None


DiscountIn = Annotated[
    Annotated[AmountDiscountIn, Tag("AMOUNT")]
    | Annotated[PercentDiscountIn, Tag("PERCENT")]
    | Annotated[FixedDiscountIn, Tag("FIXED")]
    | Annotated[UnitDiscounts, Tag("UNIT")],
    Discriminator(_discount_type),
]


class ValidityTimeframe(RequestModel):
    interval: str
    duration: str

    @field_validator("interval", "duration")
    @classmethod
    def _iso_duration(cls, value: str) -> str:
        length = fixed_duration(value)
        if length is None or length <= timedelta(0):
            raise ValueError(
                "must be an ISO 8601 duration of weeks, days, hours, minutes or seconds, "
                "such as P1D or PT1H (months and years are not supported yet)"
            )
        return value


class DailyHours(RequestModel):
    start_time: str
    expiration_time: str
    days_of_week: list[DayOfWeek] = Field(default_factory=list, max_length=7)

    @field_validator("start_time", "expiration_time")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        if not _TIME.fullmatch(value):
            raise ValueError("must be a time of day as HH:MM")
        return value


class ValidityHours(RequestModel):
    daily: list[DailyHours] = Field(default_factory=list, max_length=50)


class RedemptionIn(RequestModel):
    quantity: Annotated[int, Field(ge=1, le=10**12)] | None = None


class CodeConfigIn(RequestModel):
    length: Annotated[int, Field(ge=1, le=MAX_CODE_LENGTH)] | None = None
    charset: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    prefix: Annotated[str, Field(max_length=MAX_CODE_LENGTH)] | None = None
    postfix: Annotated[str, Field(max_length=MAX_CODE_LENGTH)] | None = None
    pattern: Annotated[str, Field(min_length=1, max_length=MAX_CODE_LENGTH)] | None = None


# Fields of VoucherCreateBase that need parts Tally has not built yet; sending them is
# refused with a message saying so, rather than accepted and ignored.
_NOT_BUILT = {
    "category": "categories",
    "category_id": "categories",
}
# A voucher joins a campaign through the campaign's own route, which applies its template.
_IN_CAMPAIGN = ("campaign", "campaign_id")


class VoucherCreate(RequestBody):
    """vouchers.json: VoucherCreateDiscount (discount vouchers; gift and loyalty cards are
    not built yet)."""

    type: Literal["DISCOUNT_VOUCHER", "GIFT_VOUCHER", "LOYALTY_CARD"]
    discount: DiscountIn | None = None
    start_date: Moment | None = None
    expiration_date: Moment | None = None
    validity_timeframe: ValidityTimeframe | None = None
    validity_day_of_week: Annotated[list[DayOfWeek], Field(max_length=7)] | None = None
    validity_hours: ValidityHours | None = None
    active: bool | None = None
    additional_info: LongText | None = None
    metadata: Metadata | None = None
    # Rules assigned to the voucher as it is made (BEHAVIOR 16.8).
    validation_rules: Annotated[list[ObjectId], Field(max_length=10)] | None = None
    redemption: RedemptionIn | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_unbuilt(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, part in _NOT_BUILT.items():
                if data.get(key) not in (None, ""):
                    raise ValueError(f"Property .{key}: {part} are not supported by Tally yet")
            for key in _IN_CAMPAIGN:
                if data.get(key) not in (None, ""):
                    raise ValueError(
                        f"Property .{key}: add a voucher to a campaign with "
                        "POST /v1/campaigns/{campaignId}/vouchers/{code}"
                    )
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "VoucherCreate":
        if self.type != "DISCOUNT_VOUCHER":
            raise ValueError(f"Property .type: {self.type} is not supported by Tally yet")
        if self.discount is None:
            raise ValueError("Property .discount is required for a DISCOUNT_VOUCHER")
        if self.start_date and self.expiration_date and self.expiration_date < self.start_date:
            raise ValueError("Property .expiration_date must not be before start_date")
        return self


class VoucherGenerate(VoucherCreate):
    """vouchers.json: VoucherCreateDiscountWithSpecificCodeOrCodeConfig (POST /v1/vouchers)."""

    code: Code | None = None
    code_config: CodeConfigIn | None = None


class VoucherOut(BaseModel):
    """Documentation shape of a voucher (vouchers.json: Voucher); responses are built as
    dicts (see presenter)."""

    id: str
    code: str
    campaign: str | None = None
    campaign_id: str | None = None
    category: str | None = None
    category_id: str | None = None
    type: str
    discount: dict[str, Any]
    gift: dict[str, Any] | None = None
    loyalty_card: dict[str, Any] | None = None
    start_date: str | None = None
    expiration_date: str | None = None
    validity_timeframe: dict[str, Any] | None = None
    validity_day_of_week: list[int] | None = None
    validity_hours: dict[str, Any] | None = None
    active: bool
    additional_info: str | None = None
    metadata: dict[str, Any]
    is_referral_code: bool
    created_at: str
    updated_at: str | None = None
    holder_id: str | None = None
    redemption: dict[str, Any]
    categories: list[dict[str, Any]]
    validation_rules_assignments: dict[str, Any]
    object: Literal["voucher"] = "voucher"
