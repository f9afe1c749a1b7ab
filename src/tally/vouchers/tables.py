import sqlalchemy as sa

from tally.db.base import JSONType, UTCDateTime, metadata

# Every id Tally makes starts with its prefix and "_" (tally.ids.new_id).
VOUCHER_ID_PREFIX = "v"
VOUCHER_ID_LENGTH = 32  # BEHAVIOR 3.2: v_ + 32 characters

vouchers = sa.Table(
    "vouchers",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("code", sa.String(255), nullable=False),
    sa.Column("campaign_id", sa.String(40), sa.ForeignKey("campaigns.id"), nullable=True),
    sa.Column("type", sa.String(24), nullable=False),
    # The discount as the API prints it (vouchers.json: Discount), effect filled in.
    sa.Column("discount", JSONType, nullable=False),
    sa.Column("start_date", UTCDateTime(), nullable=True),
    sa.Column("expiration_date", UTCDateTime(), nullable=True),
    sa.Column("validity_timeframe", JSONType, nullable=True),
    sa.Column("validity_day_of_week", JSONType, nullable=True),
    sa.Column("validity_hours", JSONType, nullable=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("additional_info", sa.Text, nullable=True),
    sa.Column("metadata", JSONType, nullable=False),
    # redemption.quantity: how many times the code may be redeemed (None: no limit).
    sa.Column("redemption_quantity", sa.BigInteger, nullable=True),
    sa.Column("redeemed_quantity", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("project_id", "code"),
    sa.Index(None, "project_id", "created_at", "id"),
    sa.Index(None, "campaign_id"),
)
