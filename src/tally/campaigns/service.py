"""Campaigns of discount vouchers: create (with codes made in the same transaction), get,
add a voucher with a given code. Promotion, gift, loyalty and referral campaigns are not
built yet and are refused by name.

Keyword-only functions over one connection; the caller owns the transaction.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tally import ids
from tally.campaigns import repository
from tally.campaigns.schemas import CampaignCreate, CampaignVoucherCreate
from tally.campaigns.tables import CAMPAIGN_ID_PREFIX
from tally.db.prepared import Row
from tally.errors import TallyError, duplicate, invalid_payload, not_found
from tally.promotions import service as promotions
from tally.validation_rules import service as validation_rules
from tally.vouchers import service as vouchers
from tally.vouchers.codes import ALPHANUMERIC, DEFAULT_LENGTH, CodeConfigError, make_code


def get(conn: Connection, *, project_id: str, ref: str) -> Row:
    row = repository.get(conn, project_id, ref)
    if row is None:
        raise not_found("campaign", ref)
    return row


def view(conn: Connection, *, project_id: str, ref: str) -> tuple[Row, list[Row] | None]:
    """A campaign and, for a promotion, its tiers."""
    row = get(conn, project_id=project_id, ref=ref)
    if row["campaign_type"] != "PROMOTION":
        return row, None
    return row, promotions.list_of(conn, project_id=project_id, campaign_ref=row["id"])


def create(
    conn: Connection, *, project_id: str, body: CampaignCreate, now: datetime
) -> dict[str, Any]:
    """POST /v1/campaigns; a name the project already uses is 409 (BEHAVIOR 2)."""
    if repository.get(conn, project_id, body.name) is not None:
        raise duplicate(
            "campaign", f"A campaign named {body.name} already exists", resource_id=body.name
        )
    rule_ids = body.validation_rules or []
    targeted = validation_rules.check_rules(conn, project_id=project_id, rule_ids=rule_ids)
    template = body.voucher
    config: dict[str, Any] = {}
    voucher: dict[str, Any] | None = None
    if template is not None:
        config = _code_config(template.code_config.model_dump() if template.code_config else {})
        try:
            make_code(**config)  # a config that cannot make codes is refused now, not later
        except CodeConfigError as exc:
            details = str(exc).replace(".code_config", ".voucher.code_config")
            raise invalid_payload(details) from None
        quantity = template.redemption.quantity if template.redemption else None
        voucher = {
            "type": template.type,
            "discount": vouchers.stored_discount(
                conn, project_id, template.discount.model_dump(exclude_none=True), targeted=targeted
            ),
            "code_config": config,
            "redemption": {"quantity": quantity},
            "is_referral_code": False,
        }
    row: dict[str, Any] = {
        "id": ids.new_id(CAMPAIGN_ID_PREFIX),
        "project_id": project_id,
        "name": body.name,
        "campaign_type": body.campaign_type,
        "type": body.type,
        "voucher": voucher,
        "start_date": body.start_date,
        "expiration_date": body.expiration_date,
        "validity_timeframe": None
        if body.validity_timeframe is None
        else body.validity_timeframe.model_dump(),
        "validity_day_of_week": body.validity_day_of_week,
        "validity_hours": None if body.validity_hours is None else body.validity_hours.model_dump(),
        "active": True,
        "join_once": body.join_once,
        "auto_join": body.auto_join,
        "use_voucher_metadata_schema": body.use_voucher_metadata_schema,
        "metadata": body.metadata or {},
        "vouchers_count": 0,
        "created_at": now,
        "updated_at": None,
    }
    repository.insert(conn, row)
    validation_rules.assign_new(
        conn,
        project_id=project_id,
        rule_ids=rule_ids,
        kind="campaign",
        related_id=row["id"],
        now=now,
    )
    tiers = (body.promotion.tiers if body.promotion else None) or []
    for position, tier in enumerate(tiers, start=1):
        promotions.insert(
            conn, project_id=project_id, campaign=row, body=tier, now=now, hierarchy=position
        )
    count = body.vouchers_count or 0
    for _ in range(count):
        code = vouchers.new_code(conn, project_id=project_id, config=config)
        vouchers.insert(
            conn,
            project_id=project_id,
            code=code,
            fields=_voucher_fields(row, None),
            now=now,
            campaign_id=row["id"],
        )
    if count:
        repository.add_vouchers(conn, project_id, row["id"], count)
        row["vouchers_count"] = count
    return row


def add_voucher(
    conn: Connection,
    *,
    project_id: str,
    ref: str,
    code: str,
    body: CampaignVoucherCreate,
    now: datetime,
) -> dict[str, Any]:
    """POST /v1/campaigns/{campaignId}/vouchers/{code}: a voucher made from the campaign's
    template, with the fields of ``body`` over it; a taken code is 409."""
    campaign = get(conn, project_id=project_id, ref=ref)
    if campaign["voucher"] is None:
        raise TallyError(
            400,
            "invalid_campaign_type",
            "Invalid campaign type",
            f"Campaign {ref} is a {campaign['campaign_type']} campaign: it has no vouchers",
        )
    voucher = vouchers.insert(
        conn,
        project_id=project_id,
        code=code,
        fields=_voucher_fields(campaign, body),
        now=now,
        campaign_id=campaign["id"],
    )
    repository.add_vouchers(conn, project_id, campaign["id"], 1)
    return {**voucher, "campaign_name": campaign["name"]}


def _code_config(given: Mapping[str, Any]) -> dict[str, Any]:
    """The config as campaigns print it: length, charset and pattern always set."""
    length = given.get("length") or DEFAULT_LENGTH
    config: dict[str, Any] = {
        "length": length,
        "charset": given.get("charset") or ALPHANUMERIC,
        "pattern": given.get("pattern") or "#" * length,
    }
    for key in ("prefix", "postfix"):
        if given.get(key):
            config[key] = given[key]
    if given.get("pattern"):
        config["length"] = given["pattern"].count("#")
    return config


def _voucher_fields(
    campaign: Mapping[str, Any], body: CampaignVoucherCreate | None
) -> dict[str, Any]:
    template = campaign["voucher"]
    fields: dict[str, Any] = {
        "type": template["type"],
        "discount": template["discount"],
        "start_date": campaign["start_date"],
        "expiration_date": campaign["expiration_date"],
        "validity_timeframe": campaign["validity_timeframe"],
        "validity_day_of_week": campaign["validity_day_of_week"],
        "validity_hours": campaign["validity_hours"],
        "active": True,
        "additional_info": None,
        "metadata": {},
        "redemption_quantity": template["redemption"]["quantity"],
    }
    if body is not None:
        sent = body.model_fields_set
        if body.metadata is not None:
            fields["metadata"] = body.metadata
        if body.additional_info is not None:
            fields["additional_info"] = body.additional_info
        if body.redemption is not None and "quantity" in body.redemption.model_fields_set:
            fields["redemption_quantity"] = body.redemption.quantity
        for key in ("start_date", "expiration_date"):
            if key in sent and getattr(body, key) is not None:
                fields[key] = getattr(body, key)
    return fields
