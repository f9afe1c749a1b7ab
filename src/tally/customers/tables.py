import sqlalchemy as sa

from tally.db.base import JSONType, UTCDateTime, metadata

# Every id Tally makes starts with its prefix and "_" (tally.ids.new_id).
CUSTOMER_ID_PREFIX = "cust"

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("source_id", sa.String(255), nullable=True),
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("phone", sa.String(64), nullable=True),
    sa.Column("birthday", sa.String(10), nullable=True),
    sa.Column("birthdate", sa.String(10), nullable=True),
    sa.Column("address", JSONType, nullable=True),
    sa.Column("metadata", JSONType, nullable=False),
    # summary.orders, changed by deltas in the transaction that writes the order.
    sa.Column("orders_total_amount", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("orders_total_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("orders_last_amount", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("orders_last_date", UTCDateTime(), nullable=True),
    # summary.redemptions: redemptions and rollbacks recorded for the customer, each
    # counter moved by UPDATE ... SET n = n + delta in the transaction that records them
    # (tally.customers.service.count_redemptions says what counts). total_redeemed and
    # total_rolled_back are the sums of a pair.
    sa.Column("redemptions_total_succeeded", sa.Integer, nullable=False, server_default="0"),
    sa.Column("redemptions_total_failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column(
        "redemptions_total_rollback_succeeded", sa.Integer, nullable=False, server_default="0"
    ),
    sa.Column("redemptions_total_rollback_failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("project_id", "source_id"),
    sa.Index(None, "project_id", "created_at", "id"),
    # Partial, as orders' optional links are: a customer without an email has no entry.
    sa.Index(
        None,
        "project_id",
        "email",
        sqlite_where=sa.text("email IS NOT NULL"),
        postgresql_where=sa.text("email IS NOT NULL"),
    ),
)

# Sorting by updated_at puts never-updated rows at their creation time on both engines.
sa.Index(
    "ix_customers_project_id_touched",
    customers.c.project_id,
    sa.func.coalesce(customers.c.updated_at, customers.c.created_at),
    customers.c.id,
)

# A customer's purchases (orders with a counted status) per UTC day, kept by deltas in the
# transaction that writes the order: purchase-history rules read a window of days here
# instead of counting the customer's orders (tally.core.order_history).
customer_order_days = sa.Table(
    "customer_order_days",
    metadata,
    sa.Column("customer_id", sa.String(40), sa.ForeignKey("customers.id"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("orders_count", sa.Integer, nullable=False),
    sa.Column("orders_amount", sa.BigInteger, nullable=False),
)
