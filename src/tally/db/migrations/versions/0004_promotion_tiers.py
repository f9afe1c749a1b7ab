"""promotion tiers

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tally.db.base import JSONType, UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "promotion_tiers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("banner", sa.Text(), nullable=True),
        sa.Column("discount", JSONType, nullable=False),
        sa.Column("metadata", JSONType, nullable=False),
        sa.Column("hierarchy", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("start_date", UTCDateTime(), nullable=True),
        sa.Column("expiration_date", UTCDateTime(), nullable=True),
        sa.Column("validity_timeframe", JSONType, nullable=True),
        sa.Column("validity_day_of_week", JSONType, nullable=True),
        sa.Column("validity_hours", JSONType, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_promotion_tiers_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_promotion_tiers_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_tiers")),
    )
    with op.batch_alter_table("promotion_tiers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_promotion_tiers_campaign_id_hierarchy_created_at_id"),
            ["campaign_id", "hierarchy", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("promotion_tiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promotion_tiers_campaign_id_hierarchy_created_at_id"))
    op.drop_table("promotion_tiers")
