"""redemptions

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tally.db.base import JSONType, UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stacking_rules", JSONType, nullable=True))
    with op.batch_alter_table("promotion_tiers", schema=None) as batch_op:
        for name in ("redeemed_quantity", "orders_total_amount", "orders_discount_amount"):
            batch_op.add_column(
                sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)
            )
    op.create_table(
        "redemptions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("object", sa.String(length=24), nullable=False),
        sa.Column("parent_id", sa.String(length=40), nullable=True),
        sa.Column("redemption_id", sa.String(length=40), nullable=True),
        sa.Column("rollback_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("result", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("customer_id", sa.String(length=40), nullable=True),
        sa.Column("tracking_id", sa.Text(), nullable=True),
        sa.Column("metadata", JSONType, nullable=True),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("related_object_type", sa.String(length=24), nullable=False),
        sa.Column("related_object_id", sa.String(length=255), nullable=False),
        sa.Column("related_object_parent_id", sa.String(length=40), nullable=True),
        sa.Column("voucher_code", sa.String(length=255), nullable=True),
        sa.Column("related_object", JSONType, nullable=True),
        sa.Column("customer", JSONType, nullable=True),
        sa.Column("order", JSONType, nullable=True),
        sa.Column("applied", JSONType, nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_redemptions_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemptions")),
    )
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_redemptions_project_id_created_at_id"),
            ["project_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_redemptions_project_id_customer_id_created_at"),
            ["project_id", "customer_id", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_redemptions_project_id_customer_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_redemptions_project_id_created_at_id"))

    op.drop_table("redemptions")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("stacking_rules")
    with op.batch_alter_table("promotion_tiers", schema=None) as batch_op:
        for name in ("orders_discount_amount", "orders_total_amount", "redeemed_quantity"):
            batch_op.drop_column(name)
