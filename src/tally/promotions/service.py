"""Promotion tiers: added to a promotion campaign, read one, list a campaign's.

Keyword-only functions over one connection; the caller owns the transaction.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tally import ids
from tally.campaigns import repository as campaigns
from tally.db.prepared import Row
from tally.errors import TallyError, not_found
from tally.promotions import repository
from tally.promotions.schemas import TierCreate
from tally.promotions.tables import TIER_ID_PREFIX
from tally.validation_rules import service as validation_rules
from tally.vouchers.service import stored_discount


def get(conn: Connection, *, project_id: str, tier_id: str) -> Row:
    row = repository.get(conn, project_id, tier_id)
    if row is None:
        raise not_found("promotion_tier", tier_id)
    return row


def list_of(conn: Connection, *, project_id: str, campaign_ref: str) -> list[Row]:
    campaign = _promotion(conn, project_id, campaign_ref)
    return repository.of_campaign(conn, project_id, campaign["id"])


def create(
    conn: Connection, *, project_id: str, campaign_ref: str, body: TierCreate, now: datetime
) -> Row:
    """POST /v1/promotions/{campaignId}/tiers."""
    campaign = _promotion(conn, project_id, campaign_ref)
    tier_id = insert(conn, project_id=project_id, campaign=campaign, body=body, now=now)
    return get(conn, project_id=project_id, tier_id=tier_id)


def insert(
    conn: Connection,
    *,
    project_id: str,
    campaign: Mapping[str, Any],
    body: TierCreate,
    now: datetime,
    hierarchy: int | None = None,
) -> str:
    """A new tier of ``campaign``; its id. Without a hierarchy it goes after the others."""
    if body.hierarchy is not None:
        hierarchy = body.hierarchy
    elif hierarchy is None:
        hierarchy = len(repository.of_campaign(conn, project_id, campaign["id"])) + 1
    tier_id = ids.new_id(TIER_ID_PREFIX)
    rule_ids = body.validation_rules or []
    targeted = validation_rules.check_rules(
        conn, project_id=project_id, rule_ids=rule_ids
    ) or validation_rules.names_items(conn, project_id, campaign["id"])
    repository.insert(
        conn,
        {
            "id": tier_id,
            "project_id": project_id,
            "campaign_id": campaign["id"],
            "name": body.name,
            "banner": body.banner,
            "discount": stored_discount(
                conn,
                project_id,
                body.action.discount.model_dump(exclude_none=True),
                targeted=targeted,
            ),
            "metadata": body.metadata or {},
            "hierarchy": hierarchy,
            "active": True if body.active is None else body.active,
            "start_date": body.start_date,
            "expiration_date": body.expiration_date,
            "validity_timeframe": _dump(body.validity_timeframe),
            "validity_day_of_week": body.validity_day_of_week,
            "validity_hours": _dump(body.validity_hours),
            "created_at": now,
            "updated_at": None,
        },
    )
    validation_rules.assign_new(
        conn,
        project_id=project_id,
        rule_ids=rule_ids,
        kind="promotion_tier",
        related_id=tier_id,
        now=now,
    )
    return tier_id


def _dump(model: Any) -> Any:
    return None if model is None else model.model_dump()


def _promotion(conn: Connection, project_id: str, ref: str) -> Row:
    campaign = campaigns.get(conn, project_id, ref)
    if campaign is None:
        raise not_found("campaign", ref)
    if campaign["campaign_type"] != "PROMOTION":
        raise TallyError(
            400,
            "invalid_campaign_type",
            "Invalid campaign type",
            f"Campaign {ref} is a {campaign['campaign_type']} campaign, not a PROMOTION",
        )
    return campaign
