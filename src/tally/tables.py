"""Every table, imported once so the metadata is complete (migrations, tests)."""

from tally.async_actions.tables import async_actions
from tally.campaigns.tables import campaigns
from tally.customers.tables import customers
from tally.events.tables import events
from tally.exports.tables import exports
from tally.idempotency.tables import idempotency_keys
from tally.jobs.tables import jobs
from tally.orders.tables import orders
from tally.products.tables import products, skus
from tally.projects.tables import counters, projects
from tally.promotions.tables import promotion_tiers
from tally.redemptions.tables import redemptions
from tally.validation_rules.tables import validation_rule_assignments, validation_rules
from tally.vouchers.tables import vouchers
from tally.webhooks.tables import webhook_deliveries, webhooks

__all__ = [
    "async_actions",
    "campaigns",
    "counters",
    "customers",
    "events",
    "exports",
    "idempotency_keys",
    "jobs",
    "orders",
    "products",
    "projects",
    "promotion_tiers",
    "redemptions",
    "skus",
    "validation_rule_assignments",
    "validation_rules",
    "vouchers",
    "webhook_deliveries",
    "webhooks",
]
