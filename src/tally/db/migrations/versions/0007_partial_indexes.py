"""indexes of optional links only hold the rows that have one

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (index, table, columns, the column that may be NULL)
_INDEXES = (
    (
        "ix_orders_project_id_customer_id_created_at_id",
        "orders",
        ["project_id", "customer_id", "created_at", "id"],
        "customer_id",
    ),
    ("ix_orders_referrer_id", "orders", ["referrer_id"], "referrer_id"),
    ("ix_customers_project_id_email", "customers", ["project_id", "email"], "email"),
    (
        "ix_redemptions_project_id_customer_id_created_at",
        "redemptions",
        ["project_id", "customer_id", "created_at"],
        "customer_id",
    ),
)


def upgrade() -> None:
    for name, table, columns, optional in _INDEXES:
        op.drop_index(name, table_name=table)
        where = sa.text(f"{optional} IS NOT NULL")
        op.create_index(
            name, table, columns, unique=False, sqlite_where=where, postgresql_where=where
        )


def downgrade() -> None:
    for name, table, columns, _optional in _INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, unique=False)
