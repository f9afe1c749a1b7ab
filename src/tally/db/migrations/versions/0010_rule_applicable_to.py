"""validation rules say which items a discount may touch

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tally.db.base import JSONType

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("validation_rules") as batch:
        batch.add_column(sa.Column("applicable_to", JSONType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("validation_rules") as batch:
        batch.drop_column("applicable_to")
