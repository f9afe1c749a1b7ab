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
    # How far the deliverer has sent the project's events to this endpoint: the (txid, seq)
    # position of the last event whose first try is recorded (tally.events.tables). Requests
    # only write events; the deliverer reads the events after the cursor, sends them, and
    # then writes their deliveries and the new cursor in one transaction.
    sa.Column("cursor_txid", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cursor_seq", sa.BigInteger, nullable=False, server_default="0"),
    # The deliverer sending this endpoint's events after the cursor, until when: one at a
    # time, so that two deliverers do not send the same events. It is renewed in the same
    # write that records a batch and moves the cursor, so a deliverer that keeps up takes
    # no write of its own to hold it; one that died leaves it to run out.
    sa.Column("lease_worker", sa.String(80), nullable=True),
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    sa.Index(None, "project_id", "created_at", "id"),
)

# One event to one endpoint: the delivery log, and the queue of retries. A row is written
# once the first try has ended (succeeded, or pending a retry on the schedule).
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
