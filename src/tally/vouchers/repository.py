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
