"""initial schema: projects, customers, products, skus, orders

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tally.db.base import JSONType, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("app_token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("app_id", name=op.f("uq_projects_app_id")),
    )
    op.create_table(
        "counters",
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_counters_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("project_id", "name", "shard", name=op.f("pk_counters")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("birthday", sa.String(length=10), nullable=True),
        sa.Column("birthdate", sa.String(length=10), nullable=True),
        sa.Column("address", JSONType, nullable=True),
        sa.Column("metadata", JSONType, nullable=False),
        sa.Column("orders_total_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("orders_total_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("orders_last_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("orders_last_date", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_customers_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint(
            "project_id", "source_id", name=op.f("uq_customers_project_id_source_id")
        ),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customers_project_id_created_at_id"),
            ["project_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_customers_project_id_email"), ["project_id", "email"], unique=False
        )

    op.create_table(
        "products",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("price", sa.BigInteger(), nullable=True),
        sa.Column("attributes", JSONType, nullable=False),
        sa.Column("metadata", JSONType, nullable=False),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_products_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint(
            "project_id", "source_id", name=op.f("uq_products_project_id_source_id")
        ),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_products_project_id_created_at_id"),
            ["project_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("initial_amount", sa.BigInteger(), nullable=False),
        sa.Column("discount_amount", sa.BigInteger(), nullable=False),
        sa.Column("items_discount_amount", sa.BigInteger(), nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("items", JSONType, nullable=False),
        sa.Column("metadata", JSONType, nullable=False),
        sa.Column("redemptions", JSONType, nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=True),
        sa.Column("referrer_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('CREATED', 'PAID', 'CANCELED', 'FULFILLED')", name=op.f("ck_orders_status")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_orders_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_orders_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["referrer_id"], ["customers.id"], name=op.f("fk_orders_referrer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("project_id", "source_id", name=op.f("uq_orders_project_id_source_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orders_project_id_created_at_id"),
            ["project_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_orders_project_id_customer_id_created_at_id"),
            ["project_id", "customer_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_orders_referrer_id"), ["referrer_id"], unique=False)

    op.create_table(
        "skus",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=True),
        sa.Column("sku", sa.Text(), nullable=True),
        sa.Column("price", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("attributes", JSONType, nullable=False),
        sa.Column("metadata", JSONType, nullable=False),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_skus_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_skus_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skus")),
        sa.UniqueConstraint("project_id", "source_id", name=op.f("uq_skus_project_id_source_id")),
    )
    with op.batch_alter_table("skus", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_skus_project_id_product_id_created_at_id"),
            ["project_id", "product_id", "created_at", "id"],
            unique=False,
        )

    # Sorting by updated_at orders never-updated rows by their creation time.
    for table, lead in (
        ("customers", ["project_id"]),
        ("products", ["project_id"]),
        ("orders", ["project_id"]),
        ("skus", ["project_id", "product_id"]),
    ):
        name = f"ix_{table}_project_id_touched" if table != "skus" else "ix_skus_product_id_touched"
        op.create_index(
            name, table, [*lead, sa.text("coalesce(updated_at, created_at)"), "id"], unique=False
        )


def downgrade() -> None:
    for name, table in (
        ("ix_customers_project_id_touched", "customers"),
        ("ix_products_project_id_touched", "products"),
        ("ix_orders_project_id_touched", "orders"),
        ("ix_skus_product_id_touched", "skus"),
    ):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("skus", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_skus_project_id_product_id_created_at_id"))

    op.drop_table("skus")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_referrer_id"))
        batch_op.drop_index(batch_op.f("ix_orders_project_id_customer_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_orders_project_id_created_at_id"))

    op.drop_table("orders")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_project_id_created_at_id"))

    op.drop_table("products")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_project_id_email"))
        batch_op.drop_index(batch_op.f("ix_customers_project_id_created_at_id"))

    op.drop_table("customers")
    op.drop_table("counters")
    op.drop_table("projects")
