import sqlalchemy as sa

# Statuses whose orders are purchases: one definition, in the pure core.
from tally.core.order_history import COUNTED_STATUSES as COUNTED_STATUSES
from tally.db.base import JSONType, UTCDateTime, metadata

# Every id Tally makes starts with its prefix and "_" (tally.ids.new_id).
ORDER_ID_PREFIX = "ord"

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("source_id", sa.String(255), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("initial_amount", sa.BigInteger, nullable=False),
    sa.Column("discount_amount", sa.BigInteger, nullable=False),
    sa.Column("items_discount_amount", sa.BigInteger, nullable=False),
    sa.Column("total_amount", sa.BigInteger, nullable=False),
    # Lines live with their order: an order is read and written whole, and one row per order
    # halves the statements of every write (DESIGN.md section 8: statements are the cost).
    sa.Column("items", JSONType, nullable=False),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Column("redemptions", JSONType, nullable=False),
    sa.Column("customer_id", sa.String(40), sa.ForeignKey("customers.id"), nullable=True),
    sa.Column("referrer_id", sa.String(40), sa.ForeignKey("customers.id"), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('CREATED', 'PAID', 'CANCELED', 'FULFILLED')", name="status"),
    sa.UniqueConstraint("project_id", "source_id"),
    # Covering the list sorts: the page is found in the index before any row is read.
    sa.Index(None, "project_id", "created_at", "id"),
    # A customer's orders, newest first: summaries and purchase-history rules read them
    # here (filtering the few rows by status), never by walking the project's orders.
    # Partial: an order without a customer (most redemptions' new orders) has no entry to
    # write. Lookups by a customer (customer_id = ...) imply IS NOT NULL and use them.
    sa.Index(
        None,
        "project_id",
        "customer_id",
        "created_at",
        "id",
        sqlite_where=sa.text("customer_id IS NOT NULL"),
        postgresql_where=sa.text("customer_id IS NOT NULL"),
    ),
    sa.Index(
        None,
        "referrer_id",
        sqlite_where=sa.text("referrer_id IS NOT NULL"),
        postgresql_where=sa.text("referrer_id IS NOT NULL"),
    ),
)

# Sorting by updated_at puts never-updated rows at their creation time on both engines.
sa.Index(
    "ix_orders_project_id_touched",
    orders.c.project_id,
    sa.func.coalesce(orders.c.updated_at, orders.c.created_at),
    orders.c.id,
)
