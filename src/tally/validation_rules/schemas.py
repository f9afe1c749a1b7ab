"""Request and response bodies of /v1/validation-rules (validation-rules.json)."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictInt, model_validator

from tally.common.schemas import Money, ObjectId, RequestBody, RequestModel, ShortText

CONTEXT_TYPES = (
    "earning_rule.order.paid",
    "earning_rule.custom_event",
    "earning_rule.customer.segment.entered",
    "earning_rule.customer.tier.joined",
    "earning_rule.customer.tier.left",
    "earning_rule.customer.tier.upgraded",
    "earning_rule.customer.tier.downgraded",
    "earning_rule.customer.tier.prolonged",
    "campaign.discount_coupons",
    "campaign.discount_coupons.discount.apply_to_order",
    "campaign.discount_coupons.discount.apply_to_items",
    "campaign.discount_coupons.discount.apply_to_items_proportionally",
    "campaign.discount_coupons.discount.apply_to_items_proportionally_by_quantity",
    "campaign.discount_coupons.discount.apply_to_items_by_quantity",
    "campaign.discount_coupons.discount.fixed.apply_to_items",
    "campaign.discount_coupons.discount.percent.apply_to_items",
    "campaign.gift_vouchers",
    "campaign.gift_vouchers.gift.apply_to_order",
    "campaign.gift_vouchers.gift.apply_to_items",
    "campaign.referral_program",
    "campaign.referral_program.discount.apply_to_order",
    "campaign.referral_program.discount.apply_to_items",
    "campaign.referral_program.discount.apply_to_items_proportionally",
    "campaign.referral_program.discount.apply_to_items_proportionally_by_quantity",
    "campaign.referral_program.discount.apply_to_items_by_quantity",
    "campaign.referral_program.discount.fixed.apply_to_items",
    "campaign.referral_program.discount.percent.apply_to_items",
    "campaign.promotion",
    "campaign.promotion.discount.apply_to_order",
    "campaign.promotion.discount.apply_to_items",
    "campaign.promotion.discount.apply_to_items_proportionally",
    "campaign.promotion.discount.apply_to_items_proportionally_by_quantity",
    "campaign.promotion.discount.apply_to_items_by_quantity",
    "campaign.promotion.discount.fixed.apply_to_items",
    "campaign.promotion.discount.percent.apply_to_items",
    "campaign.loyalty_program",
    "voucher.discount_voucher",
    "voucher.discount_voucher.discount.apply_to_order",
    "voucher.discount_voucher.discount.apply_to_items",
    "voucher.discount_voucher.discount.apply_to_items_proportionally",
    "voucher.discount_voucher.discount.apply_to_items_proportionally_by_quantity",
    "voucher.discount_voucher.discount.apply_to_items_by_quantity",
    "voucher.discount_voucher.discount.fixed.apply_to_items",
    "voucher.discount_voucher.discount.percent.apply_to_items",
    "voucher.gift_voucher",
    "voucher.gift_voucher.gift.apply_to_order",
    "voucher.gift_voucher.gift.apply_to_items",
    "voucher.loyalty_card",
    "distribution.custom_event",
    "distribution.order.paid",
    "distribution.order.created",
    "distribution.order.canceled",
    "distribution.order.updated",
    "reward_assignment.pay_with_points",
    "global",
)
ContextType = Literal[CONTEXT_TYPES]  # type: ignore[valid-type]
RuleType = Literal["expression", "basic", "advanced", "complex"]


class RuleMessage(RequestModel):
    message: ShortText


# Parts of an applicable_to entry Tally does not apply yet: refused by name, never ignored.
_ENTRY_NOT_BUILT = (
    "price",
    "price_formula",
    "order_item_indices",
    "order_item_units",
    "repeat",
    "skip_initially",
    "target",
)
Count = Annotated[StrictInt, Field(ge=0, le=1_000_000_000)]


class ApplicableToEntry(RequestModel):
    """A product or SKU a discount may (``included``) or may not (``excluded``) touch, and
    the caps on what it gets (validation-rules.json ApplicableTo; BEHAVIOR 11.6)."""

    object: Literal["product", "sku", "products_collection"]
    id: ObjectId | None = None
    source_id: ObjectId | None = None
    # Printed as the catalogue has them; what a client sends here is not read.
    product_id: ObjectId | None = None
    product_source_id: ObjectId | None = None
    strict: bool = False
    effect: Literal[
        "APPLY_TO_EVERY",
        "APPLY_TO_CHEAPEST",
        "APPLY_FROM_CHEAPEST",
        "APPLY_TO_MOST_EXPENSIVE",
        "APPLY_FROM_MOST_EXPENSIVE",
    ] = "APPLY_TO_EVERY"
    quantity_limit: Count | None = None
    aggregated_quantity_limit: Count | None = None
    amount_limit: Money | None = None
    aggregated_amount_limit: Money | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_unbuilt(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in _ENTRY_NOT_BUILT:
                if data.get(key) not in (None, [], ""):
                    raise ValueError(
                        f"Property .applicable_to entry .{key} is not supported by Tally yet"
                    )
        return data

    @model_validator(mode="after")
    def _checked(self) -> "ApplicableToEntry":
        if self.object == "products_collection":
            raise ValueError(
                "Property .applicable_to entry .object: products collections are not "
                "supported by Tally yet"
            )
        if self.effect != "APPLY_TO_EVERY":
            raise ValueError(
                f"Property .applicable_to entry .effect: {self.effect} is not supported by "
                "Tally yet (APPLY_TO_EVERY is)"
            )
        if self.id is None and self.source_id is None:
            raise ValueError("Property .applicable_to entry needs an id or a source_id")
        return self


class ApplicableToSet(RequestModel):
    """Which order items the discount may touch (BEHAVIOR 11.5)."""

    included: list[ApplicableToEntry] = Field(default_factory=list, max_length=100)
    excluded: list[ApplicableToEntry] = Field(default_factory=list, max_length=100)
    included_all: bool = False


class RuleCreate(RequestBody):
    name: str = Field(min_length=1, max_length=255)
    rules: dict[str, Any] | None = None
    bundle_rules: dict[str, Any] | None = None
    error: RuleMessage | None = None
    applicable_to: ApplicableToSet | None = None
    type: RuleType = "expression"
    context_type: ContextType = "global"


class RuleUpdate(RequestBody):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    rules: dict[str, Any] | None = None
    bundle_rules: dict[str, Any] | None = None
    error: RuleMessage | None = None
    applicable_to: ApplicableToSet | None = None
    type: RuleType | None = None
    context_type: ContextType | None = None


RelatedType = Literal[
    "voucher", "promotion_tier", "campaign", "earning_rule", "distribution", "reward_assignment"
]


class AssignmentCreate(RequestBody):
    related_object_type: RelatedType = "voucher"
    related_object_id: ObjectId | None = None
    # The shorthand of validation-rules.json's examples: {"voucher": "v_..."}.
    voucher: ObjectId | None = None
    campaign: ObjectId | None = None
    promotion_tier: ObjectId | None = None


class RuleOut(BaseModel):
    id: str
    name: str
    rules: dict[str, Any]
    error: dict[str, Any] | None = None
    applicable_to: dict[str, Any]
    type: str
    context_type: str
    created_at: str
    updated_at: str | None = None
    assignments_count: int
    object: Literal["validation_rules"]


class RulesListOut(BaseModel):
    object: Literal["list"]
    data_ref: Literal["data"]
    data: list[RuleOut]
    total: int


class AssignmentOut(BaseModel):
    id: str
    rule_id: str
    related_object_id: str
    related_object_type: str
    created_at: str
    object: Literal["validation_rules_assignment"]


class AssignmentsListOut(BaseModel):
    object: Literal["list"]
    data_ref: Literal["data"]
    data: list[AssignmentOut]
    total: int
