"""What each exportable object offers: its CSV fields, its filters and its sort orders
(BEHAVIOR 18.2-18.4), as SQL over its table."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from tally.customers.tables import customers
from tally.orders.tables import orders
from tally.redemptions.tables import redemptions

# How a value becomes a cell: "plain" as the database gives it (Tally's own ids, enums,
# integers), "time" a moment in the API's form (formatted by the database), "text" user
# text (defused, see core.csv_cells), "metadata" the whole JSON column compact, "json" one
# JSON value of a column.
Kind = Literal["plain", "time", "text", "metadata", "json"]
# How a filter compares: as text, as a number, as a moment.
FilterKind = Literal["text", "number", "time"]


@dataclass(frozen=True)
class Field:
    sql: Callable[[sa.Table], sa.ColumnElement[Any]]
    kind: Kind = "plain"
    # A "json" field: the key of its value in the JSON column ``sql`` reads.
    key: str | None = None


@dataclass(frozen=True)
class Filter:
    sql: Callable[[sa.Table], sa.ColumnElement[Any]]
    kind: FilterKind


@dataclass(frozen=True)
class Source:
    """One exportable object: ``fields`` in the spec's order (the allowed list an error
    prints), which of them a CSV gets by default, and ``metadata.<key>`` when the object
    has metadata."""

    name: str
    table: sa.Table
    fields: dict[str, Field]
    default_fields: tuple[str, ...]
    filters: dict[str, Filter]
    sorts: tuple[str, ...]
    default_sort: str
    # Fields and filters of the spec that Tally does not keep: refused by name, not
    # exported empty or ignored.
    unbuilt: frozenset[str] = frozenset()
    unbuilt_filters: frozenset[str] = frozenset()


def _col(name: str) -> Callable[[sa.Table], sa.ColumnElement[Any]]:
    return lambda table: table.c[name]


def _in_json(column: str, key: str) -> Field:
    return Field(_col(column), "json", key)


ORDER = Source(
    name="order",
    table=orders,
    fields={
        "id": Field(_col("id")),
        "source_id": Field(_col("source_id"), "text"),
        "created_at": Field(_col("created_at"), "time"),
        "updated_at": Field(_col("updated_at"), "time"),
        "status": Field(_col("status")),
        "amount": Field(_col("amount")),
        "discount_amount": Field(_col("discount_amount")),
        "items_discount_amount": Field(_col("items_discount_amount")),
        "total_discount_amount": Field(lambda t: t.c.discount_amount + t.c.items_discount_amount),
        "total_amount": Field(_col("total_amount")),
        "customer_id": Field(_col("customer_id")),
        "referrer_id": Field(_col("referrer_id")),
        "metadata": Field(_col("metadata"), "metadata"),
    },
    default_fields=("id", "source_id", "status"),
    filters={
        "created_at": Filter(_col("created_at"), "time"),
        "updated_at": Filter(_col("updated_at"), "time"),
        "status": Filter(_col("status"), "text"),
        "source_id": Filter(_col("source_id"), "text"),
        "amount": Filter(_col("amount"), "number"),
        "total_amount": Filter(_col("total_amount"), "number"),
        "discount_amount": Filter(_col("discount_amount"), "number"),
        "total_discount_amount": Filter(
            lambda t: t.c.discount_amount + t.c.items_discount_amount, "number"
        ),
        "items_discount_amount": Filter(_col("items_discount_amount"), "number"),
    },
    sorts=("-created_at", "created_at", "-updated_at", "updated_at", "-status", "status"),
    default_sort="-created_at",
)

CUSTOMER = Source(
    name="customer",
    table=customers,
    fields={
        "name": Field(_col("name"), "text"),
        "id": Field(_col("id")),
        "description": Field(_col("description"), "text"),
        "email": Field(_col("email"), "text"),
        "source_id": Field(_col("source_id"), "text"),
        "created_at": Field(_col("created_at"), "time"),
        "address_city": _in_json("address", "city"),
        "address_state": _in_json("address", "state"),
        "address_line_1": _in_json("address", "line_1"),
        "address_line_2": _in_json("address", "line_2"),
        "address_country": _in_json("address", "country"),
        "address_postal_code": _in_json("address", "postal_code"),
        "orders_total_amount": Field(_col("orders_total_amount")),
        "orders_total_count": Field(_col("orders_total_count")),
        "orders_average_amount": Field(
            # Half up in integers, as the customer object prints it (customers.service).
            lambda t: sa.case(
                (
                    t.c.orders_total_count > 0,
                    (2 * t.c.orders_total_amount + t.c.orders_total_count)
                    // (2 * t.c.orders_total_count),
                ),
                else_=0,
            )
        ),
        "orders_last_order_amount": Field(_col("orders_last_amount")),
        "orders_last_order_date": Field(_col("orders_last_date"), "time"),
        "updated_at": Field(_col("updated_at"), "time"),
        "phone": Field(_col("phone"), "text"),
        "birthday": Field(_col("birthday"), "text"),
        "metadata": Field(_col("metadata"), "metadata"),
        "birthdate": Field(_col("birthdate"), "text"),
        # summary.redemptions, as the customer prints it (customers.presenter).
        "redemptions_total_redeemed": Field(
            lambda t: t.c.redemptions_total_succeeded + t.c.redemptions_total_failed
        ),
        "redemptions_total_failed": Field(_col("redemptions_total_failed")),
        "redemptions_total_succeeded": Field(_col("redemptions_total_succeeded")),
        "redemptions_total_rolled_back": Field(
            lambda t: (
                t.c.redemptions_total_rollback_succeeded + t.c.redemptions_total_rollback_failed
            )
        ),
        "redemptions_total_rollback_failed": Field(_col("redemptions_total_rollback_failed")),
        "redemptions_total_rollback_succeeded": Field(_col("redemptions_total_rollback_succeeded")),
    },
    default_fields=("name", "source_id"),
    filters={
        "created_at": Filter(_col("created_at"), "time"),
        "updated_at": Filter(_col("updated_at"), "time"),
        "email": Filter(_col("email"), "text"),
        "name": Filter(_col("name"), "text"),
        "phone": Filter(_col("phone"), "text"),
        "birthday": Filter(_col("birthday"), "text"),
        "source_id": Filter(_col("source_id"), "text"),
    },
    sorts=(
        "-name",
        "name",
        "-id",
        "id",
        "-email",
        "email",
        "-source_id",
        "source_id",
        "-created_at",
        "created_at",
        "-updated_at",
        "updated_at",
    ),
    default_sort="-created_at",
    unbuilt=frozenset({"loyalty_points", "loyalty_referred_customers"}),
)

REDEMPTION = Source(
    name="redemption",
    table=redemptions,
    fields={
        "id": Field(_col("id")),
        "object": Field(_col("object")),
        "date": Field(_col("created_at"), "time"),
        "voucher_code": Field(_col("voucher_code"), "text"),
        # The voucher's campaign name; a promotion tier's campaign object, as JSON.
        "campaign": _in_json("related_object", "campaign"),
        "promotion_tier_id": Field(
            lambda t: sa.case(
                (t.c.related_object_type == "promotion_tier", t.c.related_object_id),
                else_=sa.null(),
            ),
            "text",
        ),
        "customer_id": Field(_col("customer_id")),
        "customer_source_id": _in_json("customer", "source_id"),
        "customer_name": _in_json("customer", "name"),
        "tracking_id": Field(_col("tracking_id"), "text"),
        "order_id": Field(_col("order_id")),
        "order_amount": _in_json("order", "amount"),
        "result": Field(_col("result")),
        "failure_code": Field(_col("failure_code")),
        "failure_message": Field(_col("failure_message"), "text"),
        "metadata": Field(_col("metadata"), "metadata"),
    },
    default_fields=("id", "object", "voucher_code", "customer_id", "date", "result"),
    filters={
        "created_at": Filter(_col("created_at"), "time"),
        "voucher_code": Filter(_col("voucher_code"), "text"),
        "related_object_id": Filter(_col("related_object_id"), "text"),
        "related_object_parent_id": Filter(_col("related_object_parent_id"), "text"),
        "parent_redemption_id": Filter(_col("parent_id"), "text"),
        "failure_code": Filter(_col("failure_code"), "text"),
        "result": Filter(_col("result"), "text"),
        "object": Filter(_col("object"), "text"),
        "customer_id": Filter(_col("customer_id"), "text"),
        "status": Filter(_col("status"), "text"),
    },
    sorts=(
        "-id",
        "id",
        "-voucher_code",
        "voucher_code",
        "-tracking_id",
        "tracking_id",
        "-customer_id",
        "customer_id",
        "-created_at",
        "created_at",
    ),
    default_sort="-created_at",
    unbuilt=frozenset({"gift_amount", "loyalty_points"}),
    unbuilt_filters=frozenset(
        {"campaign", "customer", "voucher", "related_object", "campaign_name", "user_login"}
    ),
)

SOURCES: dict[str, Source] = {source.name: source for source in (ORDER, CUSTOMER, REDEMPTION)}

# Objects of the spec's create-export that Tally does not export (refused by name).
UNBUILT_OBJECTS = ("voucher", "publication", "points_expiration", "voucher_transactions")

METADATA_PREFIX = "metadata."
