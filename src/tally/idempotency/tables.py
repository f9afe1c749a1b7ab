import sqlalchemy as sa

from tally.db.base import UTCDateTime, metadata

# One row per Idempotency-Key a project used in the last 24 hours: what the request was
# (its fingerprint) and what it was answered, written in the request's own transaction.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    # SHA-256 of method, path, query and body (JSON with sorted keys).
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False, index=True),
)
