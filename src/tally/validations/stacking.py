"""The project's stacking rules (BEHAVIOR 10.4). Tally has no way to change them yet: every
project gets the defaults, and responses print them."""

from typing import Any

APPLICATION_MODE = "ALL"
APPLICABLE_REDEEMABLES_LIMIT = 5


def rules_json() -> dict[str, Any]:
    return {
        "redeemables_limit": 30,
        "applicable_redeemables_limit": APPLICABLE_REDEEMABLES_LIMIT,
        "applicable_redeemables_per_category_limit": 1,
        "applicable_exclusive_redeemables_limit": 1,
        "applicable_exclusive_redeemables_per_category_limit": 1,
        "exclusive_categories": [],
        "joint_categories": [],
        "redeemables_application_mode": APPLICATION_MODE,
        "redeemables_sorting_rule": "REQUESTED_ORDER",
        "redeemables_products_application_mode": "STACK",
        "redeemables_no_effect_rule": "REDEEM_ANYWAY",
        "no_effect_skip_categories": [],
        "no_effect_redeem_anyway_categories": [],
        "redeemables_rollback_order_mode": "WITH_ORDER",
    }
