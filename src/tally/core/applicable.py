"""Which order lines a discount may touch: the ``applicable_to`` of its validation rules
(BEHAVIOR 11.5, 11.6), turned into the targets the discount core applies. Pure: no I/O.

A rule names products and SKUs it includes (each with its caps), ones it excludes, or
``included_all``. Excluded wins over included. A rule that includes nothing but excludes
something lets the discount touch every other line; one that says nothing leaves the
discount on every line.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tally.core.discounts import Target
from tally.core.rules import LineFacts

CAPS = ("quantity_limit", "aggregated_quantity_limit", "amount_limit", "aggregated_amount_limit")


@dataclass(frozen=True)
class Item:
    """One entry of ``included`` or ``excluded``: a product (with its SKUs unless
    ``strict``) or one SKU, by id or source_id, and its caps."""

    object: Literal["product", "sku"]
    id: str | None = None
    source_id: str | None = None
    strict: bool = False
    quantity_limit: int | None = None
    aggregated_quantity_limit: int | None = None
    amount_limit: int | None = None
    aggregated_amount_limit: int | None = None

    def matches(self, line: LineFacts) -> bool:
        if self.object == "sku":
            return (self.id is not None and self.id == line.sku_id) or (
                self.source_id is not None and self.source_id == line.sku_source_id
            )
        same = (self.id is not None and self.id == line.product_id) or (
            self.source_id is not None and self.source_id == line.product_source_id
        )
        if self.strict:
            # The product itself, not its variants.
            return same and line.sku_id is None and line.sku_source_id is None
        return same


@dataclass(frozen=True)
class Applicable:
    """One rule's ``applicable_to``."""

    included: tuple[Item, ...] = ()
    excluded: tuple[Item, ...] = ()
    included_all: bool = False

    @property
    def empty(self) -> bool:
        return not (self.included or self.excluded or self.included_all)


def item_of(stored: Mapping[str, Any]) -> Item:
    """An entry as a rule stores it (validation_rules.service checks it on save)."""
    return Item(
        object=stored["object"],
        id=stored.get("id"),
        source_id=stored.get("source_id"),
        strict=bool(stored.get("strict")),
        **{cap: stored.get(cap) for cap in CAPS},
    )


def applicable_of(stored: Mapping[str, Any] | None) -> Applicable:
    if not stored:
        return Applicable()
    return Applicable(
        included=tuple(item_of(entry) for entry in stored.get("included") or ()),
        excluded=tuple(item_of(entry) for entry in stored.get("excluded") or ()),
        included_all=bool(stored.get("included_all")),
    )


def targets(
    rules: Sequence[Applicable], lines: Sequence[LineFacts], size: int
) -> list[Target] | None:
    """The targets of a discount whose rules say ``rules``, on a cart of ``size`` lines
    (``lines``: what is known of them; lines a discount added in this request may have
    none, and only ``included_all`` or an empty include list reaches them). None: every
    line, no caps."""
    said = [rule for rule in rules if not rule.empty]
    if not said:
        return None
    known = list(lines)[:size]
    out_of_reach = {
        index
        for index, line in enumerate(known)
        for rule in said
        for item in rule.excluded
        if item.matches(line)
    }
    found: list[Target] = []
    for rule in said:
        for item in rule.included:
            reached = tuple(
                index
                for index, line in enumerate(known)
                if index not in out_of_reach and item.matches(line)
            )
            found.append(
                Target(
                    reached,
                    quantity_limit=item.quantity_limit,
                    aggregated_quantity_limit=item.aggregated_quantity_limit,
                    amount_limit=item.amount_limit,
                    aggregated_amount_limit=item.aggregated_amount_limit,
                )
            )
    if any(rule.included_all for rule in said) or not any(rule.included for rule in said):
        # Every line not excluded, after the named ones (which keep their own caps). A rule
        # that only excludes does not widen another rule's list of included items.
        found.append(Target(tuple(i for i in range(size) if i not in out_of_reach)))
    return found
