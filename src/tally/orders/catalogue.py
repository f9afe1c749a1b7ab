"""Order lines against the product catalogue (BEHAVIOR.md section 15).

A line names a product or SKU by Tally id, or by source_id with ``related_object``. With
``override: true`` the line's product/SKU data is written to the catalogue (created when
missing); without it an existing product/SKU is only linked and lends its price. Lookups are
batched: one statement per kind for the whole cart, whatever its size.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tally import ids
from tally.db.prepared import Row
from tally.errors import invalid_payload, not_found
from tally.orders.schemas import ItemProduct, ItemSku, OrderItemIn
from tally.products import repository as catalogue
from tally.projects import repository as counters


@dataclass
class ResolvedLine:
    product: Row | None
    sku: Row | None


def _product_ref(item: OrderItemIn) -> tuple[str | None, str | None]:
    """(Tally id, source_id) naming the line's product, if any."""
    pid = item.product_id or (item.product.id if item.product else None)
    source = item.product.source_id if item.product else None
    if (
        source is None
        and item.related_object in (None, "product")
        and item.sku_id is None
        and item.sku is None
    ):
        source = item.source_id
    return pid, source


def _sku_ref(item: OrderItemIn) -> tuple[str | None, str | None]:
    sid = item.sku_id or (item.sku.id if item.sku else None)
    source = item.sku.source_id if item.sku else None
    if source is None and item.related_object == "sku":
        source = item.source_id
    return sid, source


class Catalogue:
    """The products and SKUs one order touches, loaded once and kept current as lines
    create or change them."""

    def __init__(
        self,
        conn: Connection,
        project_id: str,
        items: list[OrderItemIn],
        *,
        keep_unknown: bool = False,
    ) -> None:
        self.conn = conn
        self.project_id = project_id
        # An item's unknown product_id or sku_id: 404 (writes, and the redemption's check
        # before them), or kept on its line, matching no product (validations; BEHAVIOR
        # 15.3).
        self.keep_unknown = keep_unknown
        product_ids: set[str] = set()
        product_sources: set[str] = set()
        sku_ids: set[str] = set()
        sku_sources: set[str] = set()
        for item in items:
            pid, psrc = _product_ref(item)
            sid, ssrc = _sku_ref(item)
            if pid:
                product_ids.add(pid)
            if psrc:
                product_sources.add(psrc)
            if sid:
                sku_ids.add(sid)
            if ssrc:
                sku_sources.add(ssrc)
        self.products = catalogue.products_by_ids(conn, project_id, product_ids)
        self.products_by_source = catalogue.products_by_source_ids(
            conn, project_id, product_sources
        )
        self.skus = catalogue.skus_by_ids(conn, project_id, sku_ids)
        self.skus_by_source = catalogue.skus_by_source_ids(conn, project_id, sku_sources)
        parents = {
            row["product_id"] for row in [*self.skus.values(), *self.skus_by_source.values()]
        }
        self.products.update(
            catalogue.products_by_ids(conn, project_id, parents - set(self.products))
        )

    def _reload_product(self, product_id: str) -> Row:
        row = catalogue.products_by_ids(self.conn, self.project_id, {product_id})[product_id]
        self.products[product_id] = row
        if row["source_id"] is not None:
            self.products_by_source[row["source_id"]] = row
        return row

    def _reload_sku(self, sku_id: str) -> Row:
        row = catalogue.skus_by_ids(self.conn, self.project_id, {sku_id})[sku_id]
        self.skus[sku_id] = row
        if row["source_id"] is not None:
            self.skus_by_source[row["source_id"]] = row
        return row

    def resolve(self, item: OrderItemIn, index: int, *, write: bool, now: datetime) -> ResolvedLine:
        product = self._find_product(item)
        sku = self._find_sku(item)
        if sku is not None and product is None:
            product = self.products.get(sku["product_id"])
        if write and item.product is not None and item.product.override:
            product = self._override_product(item, item.product, product, index, now)
        if write and item.sku is not None and item.sku.override:
            sku = self._override_sku(item, item.sku, sku, product, index, now)
        if sku is not None and product is not None and sku["product_id"] != product["id"]:
            # The line would count as one product in the rules and discounts and be a SKU
            # of another; a request that wrote anything before this is undone whole.
            raise invalid_payload(
                f"Property .items[{index}].sku is a SKU of another product than "
                f".items[{index}].product names"
            )
        return ResolvedLine(product=product, sku=sku)

    def _find_product(self, item: OrderItemIn) -> Row | None:
        pid, source = _product_ref(item)
        if pid is not None:
            row = self.products.get(pid)
            if row is None and not self.keep_unknown:
                raise not_found("product", pid)
            return row
        return self.products_by_source.get(source) if source else None

    def _find_sku(self, item: OrderItemIn) -> Row | None:
        sid, source = _sku_ref(item)
        if sid is not None:
            row = self.skus.get(sid)
            if row is None and not self.keep_unknown:
                raise not_found("sku", sid)
            return row
        return self.skus_by_source.get(source) if source else None

    def _override_product(
        self,
        item: OrderItemIn,
        data: ItemProduct,
        current: Row | None,
        index: int,
        now: datetime,
    ) -> Row:
        values: dict[str, Any] = {}
        for name in ("name", "price", "metadata"):
            if name in data.model_fields_set:
                values[name] = getattr(data, name)
        if values.get("metadata", 0) is None:
            values["metadata"] = {}
        if current is not None:
            if values:
                values["updated_at"] = now
                catalogue.update_product(self.conn, self.project_id, current["id"], values)
            return self._reload_product(current["id"])
        _, source = _product_ref(item)
        if source is None:
            raise invalid_payload(
                f"Property .items[{index}].product.source_id is required to store the product"
            )
        product_id = ids.new_hex_id("prod")
        catalogue.insert_product(
            self.conn,
            {
                "id": product_id,
                "project_id": self.project_id,
                "source_id": source,
                "attributes": [],
                "metadata": {},
                "created_at": now,
                "updated_at": None,
                **values,
            },
        )
        counters.bump(self.conn, self.project_id, "products", 1)
        return self._reload_product(product_id)

    def _override_sku(
        self,
        item: OrderItemIn,
        data: ItemSku,
        current: Row | None,
        parent: Row | None,
        index: int,
        now: datetime,
    ) -> Row:
        values: dict[str, Any] = {}
        for name in ("sku", "price", "metadata"):
            if name in data.model_fields_set:
                values[name] = getattr(data, name)
        if values.get("metadata", 0) is None:
            values["metadata"] = {}
        if current is not None:
            if values:
                values["updated_at"] = now
                catalogue.update_sku(self.conn, self.project_id, current["id"], values)
            return self._reload_sku(current["id"])
        _, source = _sku_ref(item)
        if source is None:
            raise invalid_payload(
                f"Property .items[{index}].sku.source_id is required to store the SKU"
            )
        if parent is None:
            raise invalid_payload(
                f"Property .items[{index}].product must name the SKU's product "
                "(an existing id or source_id, or override: true to create it)"
            )
        sku_id = ids.new_hex_id("sku")
        catalogue.insert_sku(
            self.conn,
            {
                "id": sku_id,
                "project_id": self.project_id,
                "product_id": parent["id"],
                "source_id": source,
                "attributes": {},
                "metadata": {},
                "created_at": now,
                "updated_at": None,
                **values,
            },
        )
        return self._reload_sku(sku_id)
