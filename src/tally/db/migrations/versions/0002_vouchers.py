"""vouchers

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tally.db.base import JSONType, UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vouchers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("discount", JSONType, nullable=False),
        sa.Column("start_date", UTCDateTime(), nullable=True),
        sa.Column("expiration_date", UTCDateTime(), nullable=True),
        sa.Column("validity_timeframe", JSONType, nullable=True),
        sa.Column("validity_day_of_week", JSONType, nullable=True),
        sa.Column("validity_hours", JSONType, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("additional_info", sa.Text(), nullable=True),
        sa.Column("metadata", JSONType, nullable=False),
        sa.Column("redemption_quantity", sa.BigInteger(), nullable=True),
        sa.Column("redeemed_quantity", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_vouchers_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouchers")),
        sa.UniqueConstraint("project_id", "code", name=op.f("uq_vouchers_project_id_code")),
    )
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vouchers_project_id_created_at_id"),
            ["project_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vouchers_project_id_created_at_id"))
    op.drop_table("vouchers")
