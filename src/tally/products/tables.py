import sqlalchemy as sa

from tally.db.base import JSONType, UTCDateTime, metadata

# Every id Tally makes starts with its prefix and "_" (tally.ids.new_id).
PRODUCT_ID_PREFIX = "prod"
SKU_ID_PREFIX = "sku"

products = sa.Table(
    "products",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("source_id", sa.String(255), nullable=True),
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("price", sa.BigInteger, nullable=True),
    sa.Column("attributes", JSONType, nullable=False),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Column("image_url", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("project_id", "source_id"),
    sa.Index(None, "project_id", "created_at", "id"),
)

skus = sa.Table(
    "skus",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("product_id", sa.String(40), sa.ForeignKey("products.id"), nullable=False),
    sa.Column("source_id", sa.String(255), nullable=True),
    sa.Column("sku", sa.Text, nullable=True),
    sa.Column("price", sa.BigInteger, nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("attributes", JSONType, nullable=False),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Column("image_url", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("project_id", "source_id"),
    sa.Index(None, "project_id", "product_id", "created_at", "id"),
)

# Sorting by updated_at puts never-updated rows at their creation time on both engines.
sa.Index(
    "ix_products_project_id_touched",
    products.c.project_id,
    sa.func.coalesce(products.c.updated_at, products.c.created_at),
    products.c.id,
)
sa.Index(
    "ix_skus_product_id_touched",
    skus.c.project_id,
    skus.c.product_id,
    sa.func.coalesce(skus.c.updated_at, skus.c.created_at),
    skus.c.id,
)
