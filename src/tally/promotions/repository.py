"""Statements for promotion tiers."""

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.campaigns.tables import campaigns
from tally.common import repository as common
from tally.db.prepared import Prepared, Row
from tally.promotions.tables import promotion_tiers

# A tier with what it takes from its campaign (printed under `campaign`, and what decides
# whether it may be used): prefixed campaign_* columns.
_CAMPAIGN_COLUMNS = [
    campaigns.c.name.label("campaign_name"),
    campaigns.c.active.label("campaign_active"),
    campaigns.c.start_date.label("campaign_start_date"),
    campaigns.c.expiration_date.label("campaign_expiration_date"),
    campaigns.c.validity_timeframe.label("campaign_validity_timeframe"),
    campaigns.c.validity_day_of_week.label("campaign_validity_day_of_week"),
    campaigns.c.validity_hours.label("campaign_validity_hours"),
    campaigns.c.created_at.label("campaign_created_at"),
]
_JOINED = promotion_tiers.join(campaigns, campaigns.c.id == promotion_tiers.c.campaign_id)


@cache
def _by(column: str) -> Prepared:
    return Prepared(
        sa.select(promotion_tiers, *_CAMPAIGN_COLUMNS)
        .select_from(_JOINED)
        .where(
            promotion_tiers.c.project_id == sa.bindparam("_project_id"),
            promotion_tiers.c[column] == sa.bindparam("_value"),
        )
        .order_by(promotion_tiers.c.hierarchy, promotion_tiers.c.created_at, promotion_tiers.c.id)
    )


def get(conn: Connection, project_id: str, tier_id: str) -> Row | None:
    return _by("id").first(conn, {"_project_id": project_id, "_value": tier_id})


def of_campaign(conn: Connection, project_id: str, campaign_id: str) -> list[Row]:
    return _by("campaign_id").all(conn, {"_project_id": project_id, "_value": campaign_id})


def insert(conn: Connection, values: dict[str, Any]) -> None:
    common.insert_row(conn, promotion_tiers, values)


@cache
def _count() -> Prepared:
    tiers = promotion_tiers.c
    return Prepared(
        sa.update(promotion_tiers)
        .where(tiers.project_id == sa.bindparam("_project_id"), tiers.id == sa.bindparam("_id"))
        .values(
            redeemed_quantity=tiers.redeemed_quantity + sa.bindparam("_uses"),
            orders_total_amount=tiers.orders_total_amount + sa.bindparam("_amount"),
            orders_discount_amount=tiers.orders_discount_amount + sa.bindparam("_discount"),
        )
    )


def count_redemption(
    conn: Connection, project_id: str, tier_id: str, *, uses: int, amount: int, discount: int
) -> None:
    """Add a redemption (uses 1) or take one back (uses -1, negative amounts) to the
    tier's summary."""
    params = {
        "_project_id": project_id,
        "_id": tier_id,
        "_uses": uses,
        "_amount": amount,
        "_discount": discount,
    }
    _count().write(conn, params)
