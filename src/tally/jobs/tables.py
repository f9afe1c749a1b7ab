import sqlalchemy as sa

from tally.db.base import JSONType, UTCDateTime, metadata

JOB_ID_PREFIX = "job"

# Work that outlives its request (imports, exports): written in the request's transaction,
# run after commit by a runner in `tally serve` or by `tally worker` processes.
jobs = sa.Table(
    "jobs",
    metadata,
    # Claim order: first queued, first run. An integer key, so FIFO holds whatever the clock.
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    # Jobs with one key run one at a time, in order (a project's imports); NULL: no such bond.
    sa.Column("queue_key", sa.String(120), nullable=True),
    # What the job works for, e.g. the async action it reports to.
    sa.Column("subject_id", sa.String(40), nullable=True),
    sa.Column("payload", JSONType, nullable=False),
    # queued -> running -> done | failed. A running job whose lease ran out (its process
    # died) is claimed again and goes on from its last checkpoint.
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("checkpoint", JSONType, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    sa.Column("worker", sa.String(80), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
    sa.Index(None, "status", "seq"),
    sa.Index(None, "queue_key", "seq"),
)
