import sqlalchemy as sa

from tally.db.base import JSONType, UTCDateTime, metadata

# Voucherify's customer events are "evcus_" ids.
EVENT_ID_PREFIX = "evcus"

# Every event, written in the transaction of the change that caused it (the outbox that
# webhook deliveries, the customer activity and GET /v1/events read).
events = sa.Table(
    "events",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    # What the event is about: an order, a customer (a redemption's events name its order).
    sa.Column("entity_id", sa.String(40), nullable=False),
    # No foreign keys: an event is history, and outlives a deleted customer.
    sa.Column("order_id", sa.String(40), nullable=True),
    sa.Column("customer_id", sa.String(40), nullable=True),
    # 1, 2, 3... per order, in the order the events happened (NULL: not about an order).
    sa.Column("sequence", sa.BigInteger, nullable=True),
    # The request that caused it (its request_id), and who sent that request.
    sa.Column("group_id", sa.String(40), nullable=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("app_id", sa.String(64), nullable=True),
    sa.Column("data", JSONType, nullable=False),
    # The id of an earlier event of the same request whose data this event shows (JSON null
    # in its own ``data``): a create's customer.order.created and .paid show one order,
    # and stored twice it was the biggest part of the bytes a create writes. Readers put
    # the data back (tally.events.repository.with_data).
    sa.Column("same_data_as", sa.String(40), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # PostgreSQL: the id of the transaction that wrote it (its default, set by migration
    # 0013); readers list events by (txid, seq) and only those of transactions older than
    # every transaction still running, so a reader's cursor never passes an event that
    # commits later (no gaps). SQLite writers take turns, so seq alone is commit order: 0.
    sa.Column("txid", sa.BigInteger, nullable=False, server_default="0"),
    sa.Index(None, "project_id", "txid", "seq"),
    sa.Index(
        None,
        "project_id",
        "order_id",
        "txid",
        "seq",
        sqlite_where=sa.text("order_id IS NOT NULL"),
        postgresql_where=sa.text("order_id IS NOT NULL"),
    ),
    sa.Index(
        None,
        "project_id",
        "customer_id",
        "txid",
        "seq",
        sqlite_where=sa.text("customer_id IS NOT NULL"),
        postgresql_where=sa.text("customer_id IS NOT NULL"),
    ),
)
