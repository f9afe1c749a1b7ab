"""project rate limits

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("rate_limit_per_second", sa.Float(), nullable=True))
    op.add_column("projects", sa.Column("rate_limit_burst", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("projects", "rate_limit_burst")
    op.drop_column("projects", "rate_limit_per_second")
