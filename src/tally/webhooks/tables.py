import sqlalchemy as sa

from tally.db.base import JSONType, UTCDateTime, metadata

WEBHOOK_ID_PREFIX = "wh"
# Voucherify's webhook sendouts are "whs_" ids: one per event and endpoint, kept across tries.
DELIVERY_ID_PREFIX = "whs"

# A project's webhook endpoint (a Tally extension): where its events are sent.
webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    # The event types it wants; ["*"]: all.
    sa.Column("events", JSONType, nullable=False),
    # Kept as it is: signing needs it (unlike API tokens, which are only ever compared).
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("disabled_reason", sa.Text, nullable=True),
    # How far the deliverer has turned the project's events into deliveries to this endpoint:
    # the (txid, seq) position of the last event it read (tally.events.tables). Requests only
    # write events; the deliverer makes the deliveries after commit, in batches.
    sa.Column("cursor_txid", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cursor_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    sa.Index(None, "project_id", "created_at", "id"),
)

# One event to one endpoint: the queue the deliverer claims from, and the delivery log.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("webhook_id", sa.String(40), sa.ForeignKey("webhooks.id"), nullable=False),
    sa.Column("event_id", sa.String(40), sa.ForeignKey("events.id"), nullable=False),
    # pending -> succeeded | failed.
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # When the next try is due; retries are counted from the first try.
    sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
    sa.Column("first_attempt_at", UTCDateTime(), nullable=True),
    # A try in flight: the deliverer holding it, until when. A deliverer that died leaves
    # a lease that runs out, and the delivery is tried again (at least once).
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    sa.Column("worker", sa.String(80), nullable=True),
    # Every try: when, the HTTP status (or the error), how long it took.
    sa.Column("log", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
    sa.Index(
        None,
        "next_attempt_at",
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
    sa.Index(None, "webhook_id", "seq"),
)
