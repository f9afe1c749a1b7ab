"""customers: summary.redemptions counters, filled from the redemptions already there

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# In the order tally.customers.repository.REDEMPTION_COUNTERS lists them.
_COUNTERS = (
    "redemptions_total_succeeded",
    "redemptions_total_failed",
    "redemptions_total_rollback_succeeded",
    "redemptions_total_rollback_failed",
)
_BATCH = 1000


def upgrade() -> None:
    for name in _COUNTERS:
        op.add_column(
            "customers", sa.Column(name, sa.Integer(), server_default="0", nullable=False)
        )
    _fill()


def _fill() -> None:
    """Each customer's counters from their stored redemption and rollback records, counted
    as the running code counts them (tally.customers.service.redemption_counter): per
    record, a stack's parent redemption and parent rollback left out. The tables as this
    revision has them, not as the code will: only columns that exist here are read."""
    redemptions = sa.table(
        "redemptions",
        sa.column("project_id", sa.String),
        sa.column("customer_id", sa.String),
        sa.column("object", sa.String),
        sa.column("result", sa.String),
        sa.column("related_object_type", sa.String),
    )
    customers = sa.table(
        "customers",
        sa.column("id", sa.String),
        sa.column("project_id", sa.String),
        *(sa.column(name, sa.Integer) for name in _COUNTERS),
    )
    conn = op.get_bind()
    r = redemptions.c
    container = sa.case((r.related_object_type == "redemption", 1), else_=0).label("container")
    grouped = conn.execute(
        sa.select(r.project_id, r.customer_id, r.object, r.result, container, sa.func.count())
        .where(r.customer_id.is_not(None))
        .group_by(r.project_id, r.customer_id, r.object, r.result, container)
    )
    totals: dict[tuple[str, str], list[int]] = {}
    for project_id, customer_id, kind, result, is_container, count in grouped:
        succeeded = result == "SUCCESS"
        if succeeded and is_container:
            continue
        counter = (0 if kind == "redemption" else 2) + (0 if succeeded else 1)
        totals.setdefault((project_id, customer_id), [0, 0, 0, 0])[counter] += count
    update = (
        customers.update()
        .where(
            customers.c.project_id == sa.bindparam("_project_id"),
            customers.c.id == sa.bindparam("_id"),
        )
        .values({name: sa.bindparam(f"_{name}") for name in _COUNTERS})
    )
    rows = [
        {
            "_project_id": project_id,
            "_id": customer_id,
            **{f"_{name}": n for name, n in zip(_COUNTERS, counts, strict=True)},
        }
        for (project_id, customer_id), counts in sorted(totals.items())
    ]
    # A record whose customer was deleted since updates no row.
    for start in range(0, len(rows), _BATCH):
        conn.execute(update, rows[start : start + _BATCH])


def downgrade() -> None:
    # Plain DROP COLUMN on both engines (SQLite 3.35+), as 0017's: a batch copy of the
    # table would lose the expression index SQLite's reflection does not see.
    for name in reversed(_COUNTERS):
        op.drop_column("customers", name)
