import sqlalchemy as sa

from tally.db.base import JSONType, UTCDateTime, metadata

EXPORT_ID_PREFIX = "exp"

# An export: what was asked for, where its job got to, and where its file is.
exports = sa.Table(
    "exports",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("exported_object", sa.String(32), nullable=False),
    sa.Column("parameters", JSONType, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    # Where the CSV is written, chosen when the export is created (TALLY_EXPORTS_DIR): the
    # worker that writes it and the server that hands it out read the same setting's path.
    sa.Column("file_path", sa.Text, nullable=False),
    # The download token, made when the file is complete. Kept as it is, unlike API
    # tokens: the API shows it again in result.url, and it opens one file of data the
    # database holds anyway.
    sa.Column("token", sa.String(64), nullable=True),
    sa.Column("row_count", sa.BigInteger, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('SCHEDULED', 'IN_PROGRESS', 'DONE', 'ERROR')", name="status"),
    sa.Index(None, "project_id", "created_at", "id"),
)
