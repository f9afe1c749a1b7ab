"""Statements for products and SKUs."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.common import repository as common
from tally.db.prepared import Row
from tally.products.tables import PRODUCT_ID_PREFIX, SKU_ID_PREFIX, products, skus


def get_product(conn: Connection, project_id: str, ref: str) -> Row | None:
    """By Tally id, else by source_id."""
    return common.by_ref(conn, products, project_id, ref, id_prefix=PRODUCT_ID_PREFIX)


def get_sku(conn: Connection, project_id: str, ref: str) -> Row | None:
    """By Tally id, else by source_id."""
    return common.by_ref(conn, skus, project_id, ref, id_prefix=SKU_ID_PREFIX)


# The lookups by key below may answer from the kept reader's cache (tally.db.read_cache):
# their rows are shared, and nothing changes them.


def products_by_ids(conn: Connection, project_id: str, ids_: set[str]) -> dict[str, Row]:
    return common.by_ids(conn, products, project_id, ids_, kept=True)


def products_by_source_ids(
    conn: Connection, project_id: str, source_ids: set[str]
) -> dict[str, Row]:
    return common.by_source_ids(conn, products, project_id, source_ids, kept=True)


def skus_by_ids(conn: Connection, project_id: str, ids_: set[str]) -> dict[str, Row]:
    return common.by_ids(conn, skus, project_id, ids_, kept=True)


def skus_by_source_ids(conn: Connection, project_id: str, source_ids: set[str]) -> dict[str, Row]:
    return common.by_source_ids(conn, skus, project_id, source_ids, kept=True)


def insert_product(conn: Connection, values: dict[str, Any]) -> None:
    common.insert_row(conn, products, values)


def update_product(
    conn: Connection, project_id: str, product_id: str, values: dict[str, Any]
) -> None:
    common.update_row(conn, products, project_id, product_id, values)


def insert_sku(conn: Connection, values: dict[str, Any]) -> None:
    common.insert_row(conn, skus, values)


def update_sku(conn: Connection, project_id: str, sku_id: str, values: dict[str, Any]) -> None:
    common.update_row(conn, skus, project_id, sku_id, values)


def page_products(
    conn: Connection,
    project_id: str,
    *,
    order: str,
    limit: int,
    page: int,
    filters: list[sa.ColumnElement[bool]],
) -> list[Row]:
    where = [products.c.project_id == project_id, *filters]
    return common.page_rows(conn, products, where, order=order, limit=limit, page=page)


def count_products(conn: Connection, project_id: str, filters: list[sa.ColumnElement[bool]]) -> int:
    stmt = sa.select(sa.func.count()).where(products.c.project_id == project_id, *filters)
    return int(conn.execute(stmt).scalar_one())


def page_skus(
    conn: Connection,
    project_id: str,
    product_id: str,
    *,
    order: str,
    limit: int,
    page: int,
    filters: list[sa.ColumnElement[bool]],
) -> list[Row]:
    where = [skus.c.project_id == project_id, skus.c.product_id == product_id, *filters]
    return common.page_rows(conn, skus, where, order=order, limit=limit, page=page)


def count_skus(
    conn: Connection, project_id: str, product_id: str, filters: list[sa.ColumnElement[bool]]
) -> int:
    stmt = sa.select(sa.func.count()).where(
        skus.c.project_id == project_id, skus.c.product_id == product_id, *filters
    )
    return int(conn.execute(stmt).scalar_one())


def skus_of_products(
    conn: Connection, project_id: str, product_ids: list[str]
) -> dict[str, list[Row]]:
    """Every SKU of these products, oldest first, grouped by product (one statement for a
    whole list page rather than one per product)."""
    out: dict[str, list[Row]] = {pid: [] for pid in product_ids}
    if not product_ids:
        return out
    rows = conn.execute(
        sa.select(skus)
        .where(skus.c.project_id == project_id, skus.c.product_id.in_(product_ids))
        .order_by(skus.c.created_at, skus.c.id)
    ).mappings()
    for row in rows:
        out[row["product_id"]].append(row)
    return out
