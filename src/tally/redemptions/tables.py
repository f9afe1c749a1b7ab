import sqlalchemy as sa

from tally.db.base import JSONType, UTCDateTime, metadata

# Every id Tally makes starts with its prefix and "_" (tally.ids.new_id). A failed
# redemption or rollback has its own prefix, as Voucherify's do (BEHAVIOR 8.7, 12.3).
REDEMPTION_ID_PREFIX = "r"
FAILED_REDEMPTION_ID_PREFIX = "rf"
ROLLBACK_ID_PREFIX = "rr"
FAILED_ROLLBACK_ID_PREFIX = "rrf"

# Redemptions and their rollbacks share one table: GET /v1/redemptions/{id} and the list
# return both kinds (redemptions.json: RedemptionsGetResponseBody is a oneOf of the two).
redemptions = sa.Table(
    "redemptions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("object", sa.String(24), nullable=False),  # redemption | redemption_rollback
    # A child redemption's parent redemption; a child rollback's parent rollback.
    sa.Column("parent_id", sa.String(40), nullable=True),
    # A rollback: the redemption it rolls back.
    sa.Column("redemption_id", sa.String(40), nullable=True),
    # A redemption that was rolled back: its rollback.
    sa.Column("rollback_id", sa.String(40), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("result", sa.String(8), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("failure_code", sa.String(64), nullable=True),
    sa.Column("failure_message", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("order_id", sa.String(40), nullable=True),
    sa.Column("customer_id", sa.String(40), nullable=True),
    sa.Column("tracking_id", sa.Text, nullable=True),
    sa.Column("metadata", JSONType, nullable=True),
    sa.Column("channel_id", sa.String(64), nullable=False),
    sa.Column("related_object_type", sa.String(24), nullable=False),
    sa.Column("related_object_id", sa.String(255), nullable=False),
    # The campaign of a voucher or promotion tier.
    sa.Column("related_object_parent_id", sa.String(40), nullable=True),
    sa.Column("voucher_code", sa.String(255), nullable=True),
    # What the API prints of the voucher or tier, the customer and the order, as they were
    # when this was recorded: a redemption is a record of what happened.
    sa.Column("related_object", JSONType, nullable=True),
    sa.Column("customer", JSONType, nullable=True),
    sa.Column("order", JSONType, nullable=True),
    # What a successful redemption took off its order, so a rollback gives back exactly
    # that: {"discount_amount": n, "lines": {line id: n}}.
    sa.Column("applied", JSONType, nullable=True),
    # Every index is written by every redemption (four rows for a stack of three): only the
    # list's sort and its customer filter have one. A parent's children are found by the
    # ids its order entry lists.
    sa.Index(None, "project_id", "created_at", "id"),
    sa.Index(
        None,
        "project_id",
        "customer_id",
        "created_at",
        sqlite_where=sa.text("customer_id IS NOT NULL"),
        postgresql_where=sa.text("customer_id IS NOT NULL"),
    ),
)
