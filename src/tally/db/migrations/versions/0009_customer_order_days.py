"""customers' purchases per day, for purchase-history rules

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tally.core.order_history import COUNTED_STATUSES, OrderState, changes

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def upgrade() -> None:
    days = op.create_table(
        "customer_order_days",
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("orders_count", sa.Integer(), nullable=False),
        sa.Column("orders_amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_order_days_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_customer_order_days_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("customer_id", "day", name=op.f("pk_customer_order_days")),
    )
    assert days is not None
    _fill(days)


def _fill(days: sa.Table) -> None:
    """Buckets for the orders already there, summed in Python: the same day arithmetic as
    the running code (tally.core.order_history), on both engines."""
    from tally.orders.tables import orders  # the table as the code knows it

    conn = op.get_bind()
    totals: dict[tuple[str, str, object], list[int]] = {}
    rows = conn.execute(
        sa.select(
            orders.c.project_id,
            orders.c.customer_id,
            orders.c.status,
            orders.c.total_amount,
            orders.c.created_at,
        ).where(orders.c.customer_id.is_not(None), orders.c.status.in_(COUNTED_STATUSES))
    )
    for row in rows:
        state = OrderState(row.customer_id, row.status, row.total_amount, row.created_at)
        for change in changes(None, state):
            entry = totals.setdefault((row.project_id, change.customer_id, change.day), [0, 0])
            entry[0] += change.count
            entry[1] += change.amount
    batch = [
        {
            "project_id": project_id,
            "customer_id": customer_id,
            "day": day,
            "orders_count": count,
            "orders_amount": amount,
        }
        for (project_id, customer_id, day), (count, amount) in totals.items()
    ]
    for start in range(0, len(batch), _BATCH):
        conn.execute(days.insert(), batch[start : start + _BATCH])


def downgrade() -> None:
    op.drop_table("customer_order_days")
