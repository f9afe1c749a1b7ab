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


def get_by_code(conn: Connection, project_id: str, code: str) -> Row | None:
    return _with_campaign("code").first(conn, {"_project_id": project_id, "_value": code})


def get_by_id(conn: Connection, project_id: str, voucher_id: str) -> Row | None:
    return _with_campaign("id").first(conn, {"_project_id": project_id, "_value": voucher_id})


def insert(conn: Connection, values: dict[str, Any]) -> None:
    common.insert_row(conn, vouchers, values)


@cache
def _claim() -> Prepared:
    # One statement checks the limit and takes the use: two redemptions racing for the
    # last use cannot both get it, on either engine (BEHAVIOR 10.15).
    return Prepared(
        sa.update(vouchers)
        .where(
            vouchers.c.project_id == sa.bindparam("_project_id"),
            vouchers.c.id == sa.bindparam("_id"),
            sa.or_(
                vouchers.c.redemption_quantity.is_(None),
                vouchers.c.redeemed_quantity < vouchers.c.redemption_quantity,
            ),
        )
        .values(redeemed_quantity=vouchers.c.redeemed_quantity + 1)
    )


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


def claim(conn: Connection, project_id: str, voucher_id: str) -> bool:
    """Take one use of the voucher; False when its redemption limit is reached."""
    return _claim().write(conn, {"_project_id": project_id, "_id": voucher_id}) == 1


def release(conn: Connection, project_id: str, voucher_id: str) -> None:
    """Give one use back (a rollback)."""
    _release().write(conn, {"_project_id": project_id, "_id": voucher_id})
