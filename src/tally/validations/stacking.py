"""A project's stacking rules (BEHAVIOR 10.4): Voucherify's defaults, with what the project
changed through `tally projects stacking` (Voucherify sets them in its dashboard; there is
no API). Tally acts on the application mode and the two redeemable limits; the category
rules need categories, which are not built yet, and print their defaults."""

import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy.engine import Connection

from tally.projects import repository as projects

ApplicationMode = Literal["ALL", "PARTIAL"]
MAX_REDEEMABLES = 30  # BEHAVIOR 10.1


@dataclass(frozen=True)
class StackingRules:
    # ALL: one refused redeemable refuses the request. PARTIAL: the applicable ones apply.
    redeemables_application_mode: ApplicationMode = "ALL"
    applicable_redeemables_limit: int = 5
    redeemables_limit: int = MAX_REDEEMABLES

    def __post_init__(self) -> None:
        if self.redeemables_application_mode not in ("ALL", "PARTIAL"):
            raise ValueError("redeemables_application_mode must be ALL or PARTIAL")
        if not 1 <= self.redeemables_limit <= MAX_REDEEMABLES:
            raise ValueError(f"redeemables_limit must be 1 to {MAX_REDEEMABLES}")
        if not 1 <= self.applicable_redeemables_limit <= self.redeemables_limit:
            raise ValueError("applicable_redeemables_limit must be 1 to redeemables_limit")

    @property
    def partial(self) -> bool:
        return self.redeemables_application_mode == "PARTIAL"

    def json(self) -> dict[str, Any]:
        """StackingRules as every validation prints it (all fields required)."""
        return {
            "redeemables_limit": self.redeemables_limit,
            "applicable_redeemables_limit": self.applicable_redeemables_limit,
            "applicable_redeemables_per_category_limit": 1,
            "applicable_exclusive_redeemables_limit": 1,
            "applicable_exclusive_redeemables_per_category_limit": 1,
            "exclusive_categories": [],
            "joint_categories": [],
            "redeemables_application_mode": self.redeemables_application_mode,
            "redeemables_sorting_rule": "REQUESTED_ORDER",
            "redeemables_products_application_mode": "STACK",
            "redeemables_no_effect_rule": "REDEEM_ANYWAY",
            "no_effect_skip_categories": [],
            "no_effect_redeem_anyway_categories": [],
            "redeemables_rollback_order_mode": "WITH_ORDER",
        }

    def stored(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT = StackingRules()

# A project's rules are read at most every 30 s per server process: a change made with the
# CLI takes effect within that, and a validation costs no extra statement meanwhile.
_TTL_SECONDS = 30.0
_cache: dict[str, tuple[StackingRules, float]] = {}


def for_project(conn: Connection, project_id: str) -> StackingRules:
    hit = _cache.get(project_id)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    stored = projects.stacking_rules(conn, project_id)
    rules = StackingRules(**stored) if stored else DEFAULT
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[project_id] = (rules, now + _TTL_SECONDS)
    return rules


def forget(project_id: str | None = None) -> None:
    """Drop cached rules (tests, and the CLI in its own process, change them)."""
    if project_id is None:
        _cache.clear()
    else:
        _cache.pop(project_id, None)
