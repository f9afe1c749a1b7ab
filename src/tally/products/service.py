"""The product catalogue: products and their SKUs, upserted by id or source_id (BEHAVIOR 15.5)."""

import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally import ids
from tally.common.filters import query_datetime
from tally.db.prepared import Row
from tally.errors import duplicate, not_found
from tally.products import repository
from tally.products.schemas import (
    ProductCreate,
    ProductFields,
    SkuCreate,
    SkuFields,
)
from tally.products.tables import PRODUCT_ID_PREFIX, SKU_ID_PREFIX, products, skus
from tally.projects import repository as counters

# A product (as stored, or as just written) with the SKUs it lists under `skus`.
ProductView = tuple[Row, Sequence[Row]]

_PRODUCT_FIELDS = ("name", "price", "attributes", "metadata", "image_url")
_SKU_FIELDS = ("sku", "price", "currency", "attributes", "image_url", "metadata")

# products.json: ParameterOrder also offers type, code, campaign and category, which
# products and SKUs do not have: those sort by creation date in the direction asked.
_DATE_SORTS = frozenset({"created_at", "-created_at", "updated_at", "-updated_at"})


def _field_values(body: ProductFields | SkuFields, names: tuple[str, ...]) -> dict[str, Any]:
    """The fields the client sent, in storage form; absent fields are left out, and a null
    attributes/metadata means empty."""
    values: dict[str, Any] = {}
    for name in names:
        if name not in body.model_fields_set:
            continue
        value = getattr(body, name)
        if value is None and name == "metadata":
            value = {}
        elif value is None and name == "attributes":
            value = [] if isinstance(body, ProductFields) else {}
        values[name] = value
    return values


def _sort(order: str) -> str:
    if order in _DATE_SORTS:
        return order
    return "-created_at" if order.startswith("-") else "created_at"


def _created_filters(
    column: sa.ColumnElement[Any], start_date: str | None, end_date: str | None
) -> list[sa.ColumnElement[bool]]:
    """start_date and end_date bound created_at, both inclusive; an end given as a bare
    date covers that whole day (PROPOSED)."""
    filters: list[sa.ColumnElement[bool]] = []
    for name, text in (("start_date", start_date), ("end_date", end_date)):
        if text is None:
            continue
        when = query_datetime(text, name)
        if name == "start_date":
            filters.append(column >= when)
        elif len(text.strip()) == 10:
            # On the last representable day there is no upper bound.
            with contextlib.suppress(OverflowError):
                filters.append(column < when + timedelta(days=1))
        else:
            filters.append(column <= when)
    return filters


# -- products ---------------------------------------------------------------------------------


def get_product(conn: Connection, *, project_id: str, ref: str) -> Row:
    """A product by its Tally id or, failing that, its source_id; else 404."""
    row = repository.get_product(conn, project_id, ref)
    if row is None:
        raise not_found("product", ref)
    return row


def product_view(conn: Connection, *, project_id: str, ref: str) -> ProductView:
    row = get_product(conn, project_id=project_id, ref=ref)
    return row, repository.skus_of_products(conn, project_id, [row["id"]])[row["id"]]


def _source_id_change(
    conn: Connection, project_id: str, current: Row, source_id: str | None
) -> dict[str, Any]:
    """{"source_id": new} when an upsert by id renames the product; 409 if it is taken."""
    if source_id is None or source_id == current["source_id"]:
        return {}
    if repository.products_by_source_ids(conn, project_id, {source_id}):
        raise duplicate(
            "product",
            f"A product with source_id {source_id} already exists",
            resource_id=source_id,
        )
    return {"source_id": source_id}


def upsert_product(
    conn: Connection, *, project_id: str, body: ProductCreate, now: datetime
) -> ProductView:
    """POST /v1/products: match by id (an unknown id is 404; a source_id sent with it
    renames the product), else by source_id; create when nothing matches. The fields sent
    overwrite the stored ones."""
    existing: Row | None = None
    values = _field_values(body, _PRODUCT_FIELDS)
    if body.id is not None:
        existing = repository.products_by_ids(conn, project_id, {body.id}).get(body.id)
        if existing is None:
            raise not_found("product", body.id)
        values.update(_source_id_change(conn, project_id, existing, body.source_id))
    elif body.source_id is not None:
        existing = repository.products_by_source_ids(conn, project_id, {body.source_id}).get(
            body.source_id
        )
    if existing is None:
        product_id = ids.new_hex_id(PRODUCT_ID_PREFIX)
        row = {
            "id": product_id,
            "project_id": project_id,
            "source_id": body.source_id,
            "name": None,
            "price": None,
            "attributes": [],
            "metadata": {},
            "image_url": None,
            "created_at": now,
            "updated_at": None,
            **values,
        }
        # Two upserts of one new source_id: the loser's insert fails on the unique key and
        # the request runs again (web.context.run), finding the winner's product.
        repository.insert_product(conn, row)
        counters.bump(conn, project_id, "products", 1)
        return row, []  # what a read would return, without the round trip
    return _write_product(conn, project_id, existing, values, now)


def _write_product(
    conn: Connection, project_id: str, current: Row, values: dict[str, Any], now: datetime
) -> ProductView:
    if values:
        values["updated_at"] = now
        repository.update_product(conn, project_id, current["id"], values)
    skus_of = repository.skus_of_products(conn, project_id, [current["id"]])
    return {**current, **values}, skus_of[current["id"]]


def update_product(
    conn: Connection, *, project_id: str, ref: str, body: ProductFields, now: datetime
) -> ProductView:
    """PUT /v1/products/{productId}: only the fields sent change."""
    row = get_product(conn, project_id=project_id, ref=ref)
    return _write_product(conn, project_id, row, _field_values(body, _PRODUCT_FIELDS), now)


def delete_product(conn: Connection, *, project_id: str, ref: str) -> None:
    """The product and all its SKUs go; orders keep their own copy of the lines that named
    them. `force` makes no difference: Tally has no bin."""
    row = get_product(conn, project_id=project_id, ref=ref)
    conn.execute(
        skus.delete().where(skus.c.project_id == project_id, skus.c.product_id == row["id"])
    )
    conn.execute(
        products.delete().where(products.c.project_id == project_id, products.c.id == row["id"])
    )
    counters.bump(conn, project_id, "products", -1)


def list_products(
    conn: Connection,
    *,
    project_id: str,
    limit: int,
    page: int,
    order: str,
    start_date: str | None = None,
    end_date: str | None = None,
) -> tuple[list[ProductView], int]:
    """One page of products, each with its SKUs, and how many products match."""
    filters = _created_filters(products.c.created_at, start_date, end_date)
    rows = repository.page_products(
        conn, project_id, order=_sort(order), limit=limit, page=page, filters=filters
    )
    by_product = repository.skus_of_products(conn, project_id, [row["id"] for row in rows])
    if filters:
        total = repository.count_products(conn, project_id, filters)
    else:
        total = counters.count(conn, project_id, "products")
    return [(row, by_product[row["id"]]) for row in rows], total


# -- SKUs -------------------------------------------------------------------------------------


def get_sku(conn: Connection, *, project_id: str, ref: str) -> Row:
    """A SKU by its Tally id or, failing that, its source_id; else 404."""
    row = repository.get_sku(conn, project_id, ref)
    if row is None:
        raise not_found("sku", ref)
    return row


def _sku_of(conn: Connection, project_id: str, product: Row, ref: str) -> Row:
    """A SKU of this product; a SKU of another product is not found here."""
    row = repository.get_sku(conn, project_id, ref)
    if row is None or row["product_id"] != product["id"]:
        raise not_found("sku", ref)
    return row


def _sku_by_source(conn: Connection, project_id: str, product: Row, source_id: str) -> Row | None:
    """The SKU with this source_id, if it belongs to this product; 409 if another product
    has it (source ids are unique among a project's SKUs)."""
    row = repository.skus_by_source_ids(conn, project_id, {source_id}).get(source_id)
    if row is not None and row["product_id"] != product["id"]:
        raise duplicate(
            "sku",
            f"A SKU with source_id {source_id} already exists in product {row['product_id']}",
            resource_id=source_id,
        )
    return row


def upsert_sku(
    conn: Connection, *, project_id: str, product_ref: str, body: SkuCreate, now: datetime
) -> Row:
    """POST /v1/products/{productId}/skus: like upsert_product, within the product."""
    product = get_product(conn, project_id=project_id, ref=product_ref)
    existing: Row | None = None
    values = _field_values(body, _SKU_FIELDS)
    if body.id is not None:
        existing = repository.skus_by_ids(conn, project_id, {body.id}).get(body.id)
        if existing is None or existing["product_id"] != product["id"]:
            raise not_found("sku", body.id)
        if body.source_id is not None and body.source_id != existing["source_id"]:
            if _sku_by_source(conn, project_id, product, body.source_id) is not None:
                raise duplicate(
                    "sku",
                    f"A SKU with source_id {body.source_id} already exists",
                    resource_id=body.source_id,
                )
            values["source_id"] = body.source_id
    elif body.source_id is not None:
        existing = _sku_by_source(conn, project_id, product, body.source_id)
    if existing is None:
        sku_id = ids.new_hex_id(SKU_ID_PREFIX)
        row = {
            "id": sku_id,
            "project_id": project_id,
            "product_id": product["id"],
            "source_id": body.source_id,
            "sku": None,
            "price": None,
            "currency": None,
            "attributes": {},
            "metadata": {},
            "image_url": None,
            "created_at": now,
            "updated_at": None,
            **values,
        }
        # A lost race on the source_id is retried as for products.
        repository.insert_sku(conn, row)
        return row
    return _write_sku(conn, project_id, existing, values, now)


def _write_sku(
    conn: Connection, project_id: str, current: Row, values: dict[str, Any], now: datetime
) -> Row:
    if not values:
        return current
    values["updated_at"] = now
    repository.update_sku(conn, project_id, current["id"], values)
    return {**current, **values}


def update_sku(
    conn: Connection,
    *,
    project_id: str,
    product_ref: str,
    sku_ref: str,
    body: SkuFields,
    now: datetime,
) -> Row:
    """PUT /v1/products/{productId}/skus/{skuId}: only the fields sent change."""
    product = get_product(conn, project_id=project_id, ref=product_ref)
    row = _sku_of(conn, project_id, product, sku_ref)
    return _write_sku(conn, project_id, row, _field_values(body, _SKU_FIELDS), now)


def delete_sku(conn: Connection, *, project_id: str, product_ref: str, sku_ref: str) -> None:
    product = get_product(conn, project_id=project_id, ref=product_ref)
    row = _sku_of(conn, project_id, product, sku_ref)
    conn.execute(skus.delete().where(skus.c.project_id == project_id, skus.c.id == row["id"]))


def list_skus(
    conn: Connection,
    *,
    project_id: str,
    product_ref: str,
    limit: int,
    page: int,
    order: str,
    start_date: str | None = None,
    end_date: str | None = None,
) -> tuple[list[Row], int]:
    """One page of a product's SKUs and how many match."""
    product = get_product(conn, project_id=project_id, ref=product_ref)
    filters = _created_filters(skus.c.created_at, start_date, end_date)
    rows = repository.page_skus(
        conn, project_id, product["id"], order=_sort(order), limit=limit, page=page, filters=filters
    )
    return rows, repository.count_skus(conn, project_id, product["id"], filters)
