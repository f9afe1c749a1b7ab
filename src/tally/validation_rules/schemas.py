"""Request and response bodies of /v1/validation-rules (validation-rules.json)."""

from typing import Any, Literal

from pydantic import BaseModel, Field

from tally.common.schemas import ObjectId, RequestBody, RequestModel, ShortText

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


class ApplicableToSet(RequestModel):
    """Which order items the discount may touch. Tally does not target items by rule yet:
    only an empty set is accepted (see service.check_applicable_to)."""

    included: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    excluded: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
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
