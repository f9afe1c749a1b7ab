import sqlalchemy as sa

from tally.db.base import JSONType, UTCDateTime, metadata

# Every id Tally makes starts with its prefix and "_" (tally.ids.new_id).
TIER_ID_PREFIX = "promo"

promotion_tiers = sa.Table(
    "promotion_tiers",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("campaign_id", sa.String(40), sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("banner", sa.Text, nullable=True),
    # action.discount as the API prints it, effect filled in.
    sa.Column("discount", JSONType, nullable=False),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Column("hierarchy", sa.Integer, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("start_date", UTCDateTime(), nullable=True),
    sa.Column("expiration_date", UTCDateTime(), nullable=True),
    sa.Column("validity_timeframe", JSONType, nullable=True),
    sa.Column("validity_day_of_week", JSONType, nullable=True),
    sa.Column("validity_hours", JSONType, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    # summary: redemptions not rolled back, and the amounts of their orders and discounts,
    # kept by redemptions and rollbacks in their transactions.
    sa.Column("redeemed_quantity", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("orders_total_amount", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("orders_discount_amount", sa.BigInteger, nullable=False, server_default="0"),
    sa.Index(None, "campaign_id", "hierarchy", "created_at", "id"),
)
