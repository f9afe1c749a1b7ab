"""webhook endpoint leases

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tally.db.base import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The cursor now means "sent and recorded" where it meant "deliveries made": the same
    # position either way, and pending deliveries made before are tried as retries are.
    op.add_column("webhooks", sa.Column("lease_worker", sa.String(80), nullable=True))
    op.add_column("webhooks", sa.Column("lease_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("webhooks", "lease_until")
    op.drop_column("webhooks", "lease_worker")
