"""campaigns, and the campaign of a voucher

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tally.db.base import JSONType, UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("campaign_type", sa.String(length=24), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("voucher", JSONType, nullable=True),
        sa.Column("start_date", UTCDateTime(), nullable=True),
        sa.Column("expiration_date", UTCDateTime(), nullable=True),
        sa.Column("validity_timeframe", JSONType, nullable=True),
        sa.Column("validity_day_of_week", JSONType, nullable=True),
        sa.Column("validity_hours", JSONType, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("join_once", sa.Boolean(), nullable=False),
        sa.Column("auto_join", sa.Boolean(), nullable=False),
        sa.Column("use_voucher_metadata_schema", sa.Boolean(), nullable=False),
        sa.Column("metadata", JSONType, nullable=False),
        sa.Column("vouchers_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_campaigns_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_campaigns_project_id_name")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaigns_project_id_created_at_id"),
            ["project_id", "created_at", "id"],
            unique=False,
        )
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_vouchers_campaign_id_campaigns"), "campaigns", ["campaign_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_vouchers_campaign_id"), ["campaign_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vouchers_campaign_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_vouchers_campaign_id_campaigns"), type_="foreignkey"
        )
        batch_op.drop_column("campaign_id")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_project_id_created_at_id"))
    op.drop_table("campaigns")
