"""Statements for vouchers."""

from typing import Any

from sqlalchemy.engine import Connection

from tally.common import repository as common
from tally.db.prepared import Row
from tally.vouchers.tables import vouchers


def get_by_code(conn: Connection, project_id: str, code: str) -> Row | None:
    return common.one_by(conn, vouchers, project_id, "code", code)


def insert(conn: Connection, values: dict[str, Any]) -> None:
    common.insert_row(conn, vouchers, values)


def get_by_id(conn: Connection, project_id: str, voucher_id: str) -> Row | None:
    return common.one_by(conn, vouchers, project_id, "id", voucher_id)
