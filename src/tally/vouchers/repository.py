"""Statements for vouchers."""

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.campaigns.tables import campaigns
from tally.common import repository as common
from tally.db.prepared import Prepared, Row
from tally.vouchers.tables import vouchers


@cache
def _with_campaign(column: str) -> Prepared:
    """A voucher and, when it has one, its campaign's name (printed as ``campaign``)."""
    joined = vouchers.outerjoin(campaigns, campaigns.c.id == vouchers.c.campaign_id)
    return Prepared(
        sa.select(vouchers, campaigns.c.name.label("campaign_name"))
        .select_from(joined)
        .where(
            vouchers.c.project_id == sa.bindparam("_project_id"),
            vouchers.c[column] == sa.bindparam("_value"),
        )
    )


@cache
def _by_codes(count: int) -> Prepared:
    joined = vouchers.outerjoin(campaigns, campaigns.c.id == vouchers.c.campaign_id)
    return Prepared(
        sa.select(vouchers, campaigns.c.name.label("campaign_name"))
        .select_from(joined)
        .where(
            vouchers.c.project_id == sa.bindparam("_project_id"),
            vouchers.c.code.in_([sa.bindparam(f"_v{i}") for i in range(count)]),
        )
    )


# A request names at most 30 redeemables (validations.schemas.MAX_REDEEMABLES).
MAX_CODES_AT_ONCE = 30


def get_by_codes(conn: Connection, project_id: str, codes: list[str]) -> dict[str, Row]:
    """Vouchers by code, in one statement; codes not found are absent. The rows may come
    from the kept reader's cache (:mod:`tally.db.read_cache`): never to be changed."""
    unique = sorted(set(codes))
    if not unique:
        return {}
    assert len(unique) <= MAX_CODES_AT_ONCE
    params: dict[str, Any] = {f"_v{i}": code for i, code in enumerate(unique)}
    params["_project_id"] = project_id
    return {row["code"]: row for row in _by_codes(len(unique)).all_kept(conn, params)}


def get_by_code(conn: Connection, project_id: str, code: str) -> Row | None:
    return _with_campaign("code").first(conn, {"_project_id": project_id, "_value": code})


def get_by_id(conn: Connection, project_id: str, voucher_id: str) -> Row | None:
    return _with_campaign("id").first(conn, {"_project_id": project_id, "_value": voucher_id})


def insert(conn: Connection, values: dict[str, Any]) -> None:
    common.insert_row(conn, vouchers, values)


@cache
def _release() -> Prepared:
    return Prepared(
        sa.update(vouchers)
        .where(
            vouchers.c.project_id == sa.bindparam("_project_id"),
            vouchers.c.id == sa.bindparam("_id"),
            vouchers.c.redeemed_quantity > 0,
        )
        .values(redeemed_quantity=vouchers.c.redeemed_quantity - 1)
    )


@cache
def _claim_all(count: int) -> Prepared:
    # One statement checks each limit and takes the use: two redemptions racing for a last
    # use cannot both get it, on either engine (BEHAVIOR 10.15).
    return Prepared(
        sa.update(vouchers)
        .where(
            vouchers.c.project_id == sa.bindparam("_project_id"),
            vouchers.c.id.in_([sa.bindparam(f"_v{i}") for i in range(count)]),
            sa.or_(
                vouchers.c.redemption_quantity.is_(None),
                vouchers.c.redeemed_quantity < vouchers.c.redemption_quantity,
            ),
        )
        .values(redeemed_quantity=vouchers.c.redeemed_quantity + 1)
        .returning(vouchers.c.id)
    )


def claim_all(conn: Connection, project_id: str, voucher_ids: list[str]) -> set[str]:
    """Take one use of each voucher (distinct ids) that has one left, in one statement;
    the ids it took one of (RETURNING: SQLite 3.35+, PostgreSQL)."""
    params: dict[str, Any] = {f"_v{i}": v for i, v in enumerate(voucher_ids)}
    params["_project_id"] = project_id
    return {row["id"] for row in _claim_all(len(voucher_ids)).all(conn, params)}


def release(conn: Connection, project_id: str, voucher_id: str) -> None:
    """Give one use back (a rollback)."""
    _release().write(conn, {"_project_id": project_id, "_id": voucher_id})
