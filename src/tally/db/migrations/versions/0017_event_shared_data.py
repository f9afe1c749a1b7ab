"""events: data shared with an earlier event of the same request

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Events written before keep their own data (the column stays NULL for them).
    op.add_column("events", sa.Column("same_data_as", sa.String(40), nullable=True))


def downgrade() -> None:
    # Each event that shows another's data gets its own copy back before the column goes.
    op.execute(
        "UPDATE events SET data = (SELECT shown.data FROM events AS shown"
        " WHERE shown.id = events.same_data_as) WHERE same_data_as IS NOT NULL"
    )
    op.drop_column("events", "same_data_as")
