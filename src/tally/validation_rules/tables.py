import sqlalchemy as sa

from tally.db.base import JSONType, UTCDateTime, metadata

# Every id Tally makes starts with its prefix and "_" (tally.ids.new_id).
RULE_ID_PREFIX = "val"
ASSIGNMENT_ID_PREFIX = "asgm"

validation_rules = sa.Table(
    "validation_rules",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    # The rule document as the API prints it (checked by tally.core.rules.parse on write).
    sa.Column("rules", JSONType, nullable=False),
    sa.Column("error", JSONType, nullable=True),
    # {included, excluded, included_all} with each entry as printed; NULL: says nothing.
    sa.Column("applicable_to", JSONType, nullable=True),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("context_type", sa.String(80), nullable=False),
    sa.Column("assignments_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("project_id", "name"),
    sa.Index(None, "project_id", "created_at", "id"),
)

validation_rule_assignments = sa.Table(
    "validation_rule_assignments",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("rule_id", sa.String(40), sa.ForeignKey("validation_rules.id"), nullable=False),
    sa.Column("related_object_type", sa.String(24), nullable=False),
    sa.Column("related_object_id", sa.String(40), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint(
        "project_id",
        "rule_id",
        "related_object_type",
        "related_object_id",
        name="uq_validation_rule_assignments_pair",
    ),
    # A validation reads the rules of its vouchers, their campaigns and its tiers by id.
    sa.Index(None, "project_id", "related_object_id"),
    sa.Index(None, "project_id", "rule_id", "created_at", "id"),
)
