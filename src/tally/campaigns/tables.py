import sqlalchemy as sa

from tally.db.base import JSONType, UTCDateTime, metadata

# Every id Tally makes starts with its prefix and "_" (tally.ids.new_id).
CAMPAIGN_ID_PREFIX = "camp"

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("campaign_type", sa.String(24), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    # The template of the campaign's vouchers (campaigns.json: CampaignVoucher); none for
    # promotion campaigns.
    sa.Column("voucher", JSONType, nullable=True),
    sa.Column("start_date", UTCDateTime(), nullable=True),
    sa.Column("expiration_date", UTCDateTime(), nullable=True),
    sa.Column("validity_timeframe", JSONType, nullable=True),
    sa.Column("validity_day_of_week", JSONType, nullable=True),
    sa.Column("validity_hours", JSONType, nullable=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("join_once", sa.Boolean, nullable=False),
    sa.Column("auto_join", sa.Boolean, nullable=False),
    sa.Column("use_voucher_metadata_schema", sa.Boolean, nullable=False),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Column("vouchers_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("project_id", "name"),
    sa.Index(None, "project_id", "created_at", "id"),
)
