import sqlalchemy as sa

from tally.db.base import JSONType, UTCDateTime, metadata

ASYNC_ACTION_ID_PREFIX = "aa"

# What the API shows of a job a request scheduled (async-actions.json).
async_actions = sa.Table(
    "async_actions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("operation_status", sa.String(16), nullable=False),
    sa.Column("request_id", sa.String(40), nullable=True),
    sa.Column("progress", sa.Integer, nullable=False, server_default="0"),
    sa.Column("processing_time", sa.BigInteger, nullable=True),
    sa.Column("result", JSONType, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('ENQUEUED', 'IN_PROGRESS', 'DONE', 'FAILED')", name="status"),
    sa.Index(None, "project_id", "created_at", "id"),
)
