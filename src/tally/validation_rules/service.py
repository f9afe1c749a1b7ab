"""Validation rules: saved only when their document is one Tally can evaluate
(tally.core.rules), assigned to vouchers, campaigns and promotion tiers, and read back
by validations and redemptions for the redeemables they check (BEHAVIOR 16)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from tally import ids
from tally.campaigns import repository as campaigns
from tally.core import applicable
from tally.core import rules as core
from tally.db.prepared import Row
from tally.errors import TallyError, duplicate, not_found
from tally.products import repository as catalogue
from tally.promotions import repository as promotions
from tally.validation_rules import repository
from tally.validation_rules.schemas import (
    ApplicableToEntry,
    ApplicableToSet,
    AssignmentCreate,
    RuleCreate,
    RuleUpdate,
)
from tally.validation_rules.tables import ASSIGNMENT_ID_PREFIX, RULE_ID_PREFIX
from tally.vouchers import repository as vouchers

RULE = "validation_rules"
ASSIGNMENT = "validation_rules_assignment"
# The objects Tally has: assignments to the others (earning rules, distributions, reward
# assignments) are refused until those exist.
ASSIGNABLE = ("voucher", "campaign", "promotion_tier")


def invalid_rules(details: str) -> TallyError:
    return TallyError(
        400, "invalid_validation_rules", "Invalid Validation Rule Definition", details
    )


def _checked_rules(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """The document as stored and printed: every entry with its property and nested rules,
    and a logic (Voucherify prints an empty one as "")."""
    try:
        core.parse(raw)
    except core.RuleError as exc:
        raise invalid_rules(str(exc)) from None
    return _normal(raw or {})


def _normal(raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, entry in raw.items():
        if key == "logic":
            continue
        normal = {
            "name": entry["name"],
            "property": entry.get("property"),
            "conditions": entry.get("conditions") or {},
            "rules": _normal(entry.get("rules") or {}),
        }
        if entry.get("error") is not None:
            normal["error"] = {"message": entry["error"]["message"]}
        out[key] = normal
    out["logic"] = raw.get("logic") or ""
    return out


def _check_unbuilt(bundle_rules: Mapping[str, Any] | None) -> None:
    # Never stored to be ignored: a rule that says what makes a bundle is refused until
    # Tally applies it.
    if bundle_rules:
        raise invalid_rules("bundle_rules are not supported by Tally yet")


def _applicable(
    conn: Connection, project_id: str, sent: ApplicableToSet | None
) -> dict[str, Any] | None:
    """``applicable_to`` as stored and printed: each entry completed from the catalogue
    (id and source_id, and a SKU's product), None when it says nothing. An id the catalogue
    does not have is refused: a typo would otherwise never match a line. A source_id alone
    may name a product that orders bring later, and is kept as sent."""
    if sent is None or not (sent.included or sent.excluded or sent.included_all):
        return None
    out: dict[str, Any] = {"included": [], "excluded": [], "included_all": sent.included_all}
    for side in ("included", "excluded"):
        for entry in getattr(sent, side):
            out[side].append(_entry(conn, project_id, entry))
    return out


def _entry(conn: Connection, project_id: str, entry: ApplicableToEntry) -> dict[str, Any]:
    kind = entry.object
    found: Row | None
    if entry.id is not None:
        by_id = catalogue.products_by_ids if kind == "product" else catalogue.skus_by_ids
        found = by_id(conn, project_id, {entry.id}).get(entry.id)
    else:
        assert entry.source_id is not None  # the schema asks for one
        by_source = (
            catalogue.products_by_source_ids if kind == "product" else catalogue.skus_by_source_ids
        )
        found = by_source(conn, project_id, {entry.source_id}).get(entry.source_id)
    if found is None and entry.id is not None:
        raise not_found(kind, entry.id)
    out: dict[str, Any] = {"object": kind}
    if found is not None:
        out["id"] = found["id"]
        out["source_id"] = found["source_id"]
        if kind == "sku":
            parent = catalogue.products_by_ids(conn, project_id, {found["product_id"]})
            out["product_id"] = found["product_id"]
            out["product_source_id"] = parent[found["product_id"]]["source_id"]
    else:
        out["source_id"] = entry.source_id
    out["strict"] = entry.strict
    out["effect"] = entry.effect
    for cap in applicable.CAPS:
        if getattr(entry, cap) is not None:
            out[cap] = getattr(entry, cap)
    return out


def create(conn: Connection, *, project_id: str, body: RuleCreate, now: datetime) -> Row:
    _check_unbuilt(body.bundle_rules)
    document = _checked_rules(body.rules)
    items = _applicable(conn, project_id, body.applicable_to)
    if repository.get_by_name(conn, project_id, body.name) is not None:
        raise duplicate(RULE, f"A validation rule named {body.name} already exists", body.name)
    rule_id = ids.new_id(RULE_ID_PREFIX, 12)
    repository.insert(
        conn,
        {
            "id": rule_id,
            "project_id": project_id,
            "name": body.name,
            "rules": document,
            "error": body.error.model_dump() if body.error is not None else None,
            "applicable_to": items,
            "type": body.type,
            "context_type": body.context_type,
            "assignments_count": 0,
            "created_at": now,
            "updated_at": None,
        },
    )
    return get(conn, project_id=project_id, rule_id=rule_id)


def get(conn: Connection, *, project_id: str, rule_id: str) -> Row:
    row = repository.get(conn, project_id, rule_id)
    if row is None:
        raise not_found(RULE, rule_id)
    return row


def _locked(conn: Connection, project_id: str, rule_id: str) -> Row:
    # Deletes, assignments and unassignments of a rule take its row lock first: otherwise a
    # delete that read no assignments could meet one committed since, and fail on the
    # foreign key (a 500) instead of answering resource_in_use.
    row = repository.lock(conn, project_id, rule_id)
    if row is None:
        raise not_found(RULE, rule_id)
    return row


def update(
    conn: Connection, *, project_id: str, rule_id: str, body: RuleUpdate, now: datetime
) -> Row:
    current = get(conn, project_id=project_id, rule_id=rule_id)
    sent = body.model_fields_set
    _check_unbuilt(body.bundle_rules)
    values: dict[str, Any] = {"updated_at": now}
    if "name" in sent and body.name is not None and body.name != current["name"]:
        if repository.get_by_name(conn, project_id, body.name) is not None:
            raise duplicate(RULE, f"A validation rule named {body.name} already exists", body.name)
        values["name"] = body.name
    if "rules" in sent:
        values["rules"] = _checked_rules(body.rules)
    if "applicable_to" in sent:
        values["applicable_to"] = _applicable(conn, project_id, body.applicable_to)
    if "error" in sent:
        values["error"] = body.error.model_dump() if body.error is not None else None
    for field in ("type", "context_type"):
        if field in sent and getattr(body, field) is not None:
            values[field] = getattr(body, field)
    repository.update(conn, project_id, rule_id, values)
    return get(conn, project_id=project_id, rule_id=rule_id)


def delete(conn: Connection, *, project_id: str, rule_id: str) -> None:
    row = _locked(conn, project_id, rule_id)
    if row["assignments_count"] > 0:
        # BEHAVIOR 2.5: a rule still assigned stays; its assignments go first.
        raise TallyError(
            400,
            "resource_in_use",
            "Resource in use",
            f"Validation rule {rule_id} is assigned to {row['assignments_count']} object(s); "
            "delete its assignments first",
            resource_id=rule_id,
            resource_type=RULE,
        )
    repository.delete(conn, project_id, rule_id)


def list_page(
    conn: Connection,
    *,
    project_id: str,
    limit: int,
    page: int,
    order: str,
    after: datetime | None,
    before: datetime | None,
) -> tuple[list[Row], int]:
    return repository.page(
        conn, project_id, order=order, limit=limit, page=page, after=after, before=before
    )


def _related(body: AssignmentCreate) -> tuple[str, str]:
    for shorthand in ("voucher", "campaign", "promotion_tier"):
        value = getattr(body, shorthand)
        if value is not None:
            return shorthand, value
    if body.related_object_id is None:
        raise TallyError(
            400, "invalid_payload", "Invalid payload", "Property .related_object_id is required"
        )
    return body.related_object_type, body.related_object_id


def _existing(conn: Connection, project_id: str, kind: str, ref: str) -> str:
    """The id of the object an assignment names (vouchers also by code, campaigns by name)."""
    if kind not in ASSIGNABLE:
        raise TallyError(
            400,
            "invalid_payload",
            "Invalid payload",
            f"Property .related_object_type: {kind} objects are not supported by Tally yet",
        )
    row: Row | None
    if kind == "voucher":
        row = vouchers.get_by_id(conn, project_id, ref) or vouchers.get_by_code(
            conn, project_id, ref
        )
    elif kind == "campaign":
        row = campaigns.get(conn, project_id, ref)
    else:
        row = promotions.get(conn, project_id, ref)
    if row is None:
        raise not_found(kind, ref)
    return str(row["id"])


def assign(
    conn: Connection,
    *,
    project_id: str,
    rule_id: str,
    body: AssignmentCreate,
    force: bool,
    now: datetime,
) -> Row:
    _locked(conn, project_id, rule_id)
    kind, ref = _related(body)
    related_id = _existing(conn, project_id, kind, ref)
    found = repository.find_assignment(conn, project_id, rule_id, kind, related_id)
    if found is not None:
        if not force:
            raise duplicate(
                ASSIGNMENT,
                f"Duplicated {ASSIGNMENT} exists with id {found['id']}",
                str(found["id"]),
            )
        repository.delete_assignment(conn, project_id, found["id"])
        repository.count_assignments(conn, project_id, rule_id, -1)
    assignment_id = ids.new_id(ASSIGNMENT_ID_PREFIX, 16)
    repository.insert_assignment(
        conn,
        {
            "id": assignment_id,
            "project_id": project_id,
            "rule_id": rule_id,
            "related_object_type": kind,
            "related_object_id": related_id,
            "created_at": now,
        },
    )
    repository.count_assignments(conn, project_id, rule_id, 1)
    row = repository.get_assignment(conn, project_id, assignment_id)
    assert row is not None
    return row


def assignments_of(
    conn: Connection, project_id: str, related_ids: Sequence[str]
) -> dict[str, list[Row]]:
    """The assignments of each of these vouchers, campaigns or tiers, as their objects
    print them (validation_rules_assignments)."""
    out: dict[str, list[Row]] = {}
    for row in repository.assignments_of(conn, project_id, list(related_ids)):
        out.setdefault(row["related_object_id"], []).append(row)
    return out


def _targets_items(rule: Row) -> bool:
    """Whether the rule names products or SKUs (BEHAVIOR 11.2's default effect)."""
    stored = rule["applicable_to"] or {}
    return bool(stored.get("included") or stored.get("excluded"))


def names_items(conn: Connection, project_id: str, related_id: str) -> bool:
    """Whether a rule assigned to ``related_id`` (a campaign) names products or SKUs."""
    return any(
        _targets_items(row) for _related, row in repository.rules_of(conn, project_id, [related_id])
    )


def check_rules(conn: Connection, *, project_id: str, rule_ids: Sequence[str]) -> bool:
    """``validation_rules`` of a create body: every rule must exist (404 names the first
    that does not). Whether one of them names products or SKUs, which makes an amount or
    percent discount without an effect APPLY_TO_ITEMS (BEHAVIOR 11.2)."""
    rules = [get(conn, project_id=project_id, rule_id=rule_id) for rule_id in rule_ids]
    return any(_targets_items(rule) for rule in rules)


def assign_new(
    conn: Connection,
    *,
    project_id: str,
    rule_ids: Sequence[str],
    kind: str,
    related_id: str,
    now: datetime,
) -> None:
    """The rules a voucher, campaign or promotion tier is created with, assigned to it in
    the creating transaction (a rule named twice is assigned once)."""
    for rule_id in dict.fromkeys(rule_ids):
        assign(
            conn,
            project_id=project_id,
            rule_id=rule_id,
            body=AssignmentCreate.model_validate(
                {"related_object_type": kind, "related_object_id": related_id}
            ),
            force=False,
            now=now,
        )


def unassign(conn: Connection, *, project_id: str, rule_id: str, assignment_id: str) -> None:
    _locked(conn, project_id, rule_id)
    row = repository.get_assignment(conn, project_id, assignment_id)
    if row is None or row["rule_id"] != rule_id:
        raise not_found(ASSIGNMENT, assignment_id)
    repository.delete_assignment(conn, project_id, assignment_id)
    repository.count_assignments(conn, project_id, rule_id, -1)


def assignments_page(
    conn: Connection,
    *,
    project_id: str,
    rule_id: str | None,
    limit: int,
    page: int,
    order: str,
    related_object_id: str | None = None,
) -> tuple[list[Row], int]:
    # An unknown rule or object has no assignments (validation-rules.json: an empty list).
    return repository.assignments_page(
        conn,
        project_id,
        rule_id,
        order=order,
        limit=limit,
        page=page,
        related_object_id=related_object_id,
    )


# ---------------------------------------------------------------- for validations


@dataclass(frozen=True)
class Assigned:
    """A rule a redeemable must satisfy, ready to evaluate."""

    rule_id: str
    # None: a rule saved before Tally checked what it checks now, which it can no longer
    # read. It refuses the redeemable (fail closed: a discount is never given unchecked).
    document: core.Document | None
    message: str | None  # the rule set's own error.message, the fallback
    items: applicable.Applicable  # which lines the discount may touch
    stored_items: Mapping[str, Any] | None  # the same, as printed


@lru_cache(maxsize=4096)
def _parsed(rule_id: str, version: str, text: bytes) -> core.Document | None:
    # Keyed by id and last change: a rule is parsed once per process, not per request.
    try:
        return core.parse(orjson.loads(text))
    except core.RuleError:
        return None


@lru_cache(maxsize=4096)
def _items(rule_id: str, version: str, text: bytes) -> applicable.Applicable:
    return applicable.applicable_of(orjson.loads(text))


def assigned(
    conn: Connection, project_id: str, related_ids: Sequence[str]
) -> dict[str, list[Assigned]]:
    """For each of ``related_ids`` (vouchers, campaigns, promotion tiers), the rules
    assigned to it, in the order they were assigned."""
    out: dict[str, list[Assigned]] = {}
    for related_id, row in repository.rules_of(conn, project_id, list(related_ids)):
        version = str(row["updated_at"] or row["created_at"])
        document = _parsed(str(row["id"]), version, orjson.dumps(row["rules"]))
        message = (row["error"] or {}).get("message")
        items = _items(str(row["id"]), version, orjson.dumps(row["applicable_to"]))
        out.setdefault(related_id, []).append(
            Assigned(str(row["id"]), document, message, items, row["applicable_to"])
        )
    return out
