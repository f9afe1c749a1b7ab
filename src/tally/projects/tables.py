import sqlalchemy as sa

from tally.db.base import JSONType, UTCDateTime, metadata

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("app_id", sa.String(64), nullable=False, unique=True),
    # SHA-256 of the token: tokens are 256-bit random, so a slow hash adds nothing.
    sa.Column("app_token_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # The project's stacking rules that differ from the defaults (BEHAVIOR 10.4): set with
    # `tally projects stacking`, as Voucherify's are set in its dashboard.
    sa.Column("stacking_rules", JSONType, nullable=True),
    # ISO 4217 code the dashboard prints amounts with; display only (amounts carry none).
    sa.Column("currency", sa.String(3), nullable=True),
    # The project's own rate limit (`tally projects rate-limit`): requests a second per
    # server process (0: none), and the burst; NULL: the server's TALLY_RATE_LIMIT_*.
    sa.Column("rate_limit_per_second", sa.Float, nullable=True),
    sa.Column("rate_limit_burst", sa.Integer, nullable=True),
)

# Row counts that list envelopes report as `total`. Kept exact in the same transaction as
# the rows they count, and split into shards so concurrent writers on PostgreSQL do not all
# queue on one hot row.
COUNTER_SHARDS = 8

counters = sa.Table(
    "counters",
    metadata,
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), primary_key=True),
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("shard", sa.Integer, primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False, server_default="0"),
)
