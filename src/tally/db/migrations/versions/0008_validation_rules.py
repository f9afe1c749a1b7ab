"""validation rules and their assignments

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tally.db.base import JSONType, UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "validation_rules",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("rules", JSONType, nullable=False),
        sa.Column("error", JSONType, nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("context_type", sa.String(length=80), nullable=False),
        sa.Column("assignments_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_validation_rules_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_rules")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_validation_rules_project_id_name")),
    )
    op.create_index(
        op.f("ix_validation_rules_project_id_created_at_id"),
        "validation_rules",
        ["project_id", "created_at", "id"],
    )
    op.create_table(
        "validation_rule_assignments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("rule_id", sa.String(length=40), nullable=False),
        sa.Column("related_object_type", sa.String(length=24), nullable=False),
        sa.Column("related_object_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_validation_rule_assignments_project_id_projects"),
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["validation_rules.id"],
            name=op.f("fk_validation_rule_assignments_rule_id_validation_rules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_rule_assignments")),
        sa.UniqueConstraint(
            "project_id",
            "rule_id",
            "related_object_type",
            "related_object_id",
            name=op.f("uq_validation_rule_assignments_pair"),
        ),
    )
    op.create_index(
        op.f("ix_validation_rule_assignments_project_id_related_object_id"),
        "validation_rule_assignments",
        ["project_id", "related_object_id"],
    )
    op.create_index(
        op.f("ix_validation_rule_assignments_project_id_rule_id_created_at_id"),
        "validation_rule_assignments",
        ["project_id", "rule_id", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_table("validation_rule_assignments")
    op.drop_table("validation_rules")
