"""Statements for campaigns."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.campaigns.tables import CAMPAIGN_ID_PREFIX, campaigns
from tally.common import repository as common
from tally.db.prepared import Prepared, Row


def get(conn: Connection, project_id: str, ref: str) -> Row | None:
    """By Tally id, else by name (campaigns.json: the campaignId path parameter)."""
    row = None
    if ref.startswith(f"{CAMPAIGN_ID_PREFIX}_"):
        row = common.one_by(conn, campaigns, project_id, "id", ref)
    if row is None:
        row = common.one_by(conn, campaigns, project_id, "name", ref)
    return row


def get_by_name(conn: Connection, project_id: str, name: str) -> Row | None:
    return common.one_by(conn, campaigns, project_id, "name", name)


def insert(conn: Connection, values: dict[str, Any]) -> None:
    common.insert_row(conn, campaigns, values)


_ADD_VOUCHERS = Prepared(
    campaigns.update()
    .where(
        campaigns.c.project_id == sa.bindparam("_project_id"), campaigns.c.id == sa.bindparam("_id")
    )
    .values(vouchers_count=campaigns.c.vouchers_count + sa.bindparam("_added"))
)


def add_vouchers(conn: Connection, project_id: str, campaign_id: str, added: int) -> None:
    _ADD_VOUCHERS.write(conn, {"_project_id": project_id, "_id": campaign_id, "_added": added})
