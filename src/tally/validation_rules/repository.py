"""Statements for validation rules and their assignments."""

from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.common import repository as common
from tally.db.prepared import Prepared, Row
from tally.validation_rules.tables import validation_rule_assignments as assignments
from tally.validation_rules.tables import validation_rules as rules


def get(conn: Connection, project_id: str, rule_id: str) -> Row | None:
    return common.one_by(conn, rules, project_id, "id", rule_id)


def lock(conn: Connection, project_id: str, rule_id: str) -> Row | None:
    """The rule, read again and locked for the rest of the transaction. On PostgreSQL a
    delete and an assignment of one rule so run one after the other, and the delete sees
    the assignment; SQLite has no FOR UPDATE and needs none (its writers take turns)."""
    stmt = (
        sa.select(rules)
        .where(rules.c.project_id == project_id, rules.c.id == rule_id)
        .with_for_update()
    )
    return conn.execute(stmt).mappings().first()


def get_by_name(conn: Connection, project_id: str, name: str) -> Row | None:
    return common.one_by(conn, rules, project_id, "name", name)


def insert(conn: Connection, values: dict[str, Any]) -> None:
    common.insert_row(conn, rules, values)


def update(conn: Connection, project_id: str, rule_id: str, values: dict[str, Any]) -> None:
    common.update_row(conn, rules, project_id, rule_id, values)


def delete(conn: Connection, project_id: str, rule_id: str) -> None:
    conn.execute(sa.delete(rules).where(rules.c.project_id == project_id, rules.c.id == rule_id))


def page(
    conn: Connection,
    project_id: str,
    *,
    order: str,
    limit: int,
    page: int,
    after: Any = None,
    before: Any = None,
) -> tuple[list[Row], int]:
    where = [rules.c.project_id == project_id]
    if after is not None:
        where.append(rules.c.created_at >= after)
    if before is not None:
        where.append(rules.c.created_at <= before)
    column, descending = order.lstrip("-"), order.startswith("-")
    key: sa.ColumnElement[Any] = rules.c[column]
    if column == "updated_at":
        key = sa.func.coalesce(rules.c.updated_at, rules.c.created_at)
    keys = [key.desc(), rules.c.id.desc()] if descending else [key.asc(), rules.c.id.asc()]
    stmt = sa.select(rules).where(*where).order_by(*keys).limit(limit).offset((page - 1) * limit)
    total = conn.execute(sa.select(sa.func.count()).select_from(rules).where(*where)).scalar_one()
    return list(conn.execute(stmt).mappings()), int(total)


def count_assignments(conn: Connection, project_id: str, rule_id: str, delta: int) -> None:
    conn.execute(
        sa.update(rules)
        .where(rules.c.project_id == project_id, rules.c.id == rule_id)
        .values(assignments_count=rules.c.assignments_count + delta)
    )


def get_assignment(conn: Connection, project_id: str, assignment_id: str) -> Row | None:
    return common.one_by(conn, assignments, project_id, "id", assignment_id)


def find_assignment(
    conn: Connection, project_id: str, rule_id: str, related_type: str, related_id: str
) -> Row | None:
    stmt = sa.select(assignments).where(
        assignments.c.project_id == project_id,
        assignments.c.rule_id == rule_id,
        assignments.c.related_object_type == related_type,
        assignments.c.related_object_id == related_id,
    )
    return conn.execute(stmt).mappings().first()


def insert_assignment(conn: Connection, values: dict[str, Any]) -> None:
    common.insert_row(conn, assignments, values)


def delete_assignment(conn: Connection, project_id: str, assignment_id: str) -> None:
    conn.execute(
        sa.delete(assignments).where(
            assignments.c.project_id == project_id, assignments.c.id == assignment_id
        )
    )


def assignments_page(
    conn: Connection,
    project_id: str,
    rule_id: str | None,
    *,
    order: str,
    limit: int,
    page: int,
    related_object_id: str | None = None,
) -> tuple[list[Row], int]:
    """A page of the project's assignments, of one rule and/or one object when given."""
    where = [assignments.c.project_id == project_id]
    if rule_id is not None:
        where.append(assignments.c.rule_id == rule_id)
    if related_object_id is not None:
        where.append(assignments.c.related_object_id == related_object_id)
    descending = order.startswith("-")
    keys = (
        [assignments.c.created_at.desc(), assignments.c.id.desc()]
        if descending
        else [assignments.c.created_at.asc(), assignments.c.id.asc()]
    )
    stmt = (
        sa.select(assignments).where(*where).order_by(*keys).limit(limit).offset((page - 1) * limit)
    )
    total = conn.execute(
        sa.select(sa.func.count()).select_from(assignments).where(*where)
    ).scalar_one()
    return list(conn.execute(stmt).mappings()), int(total)


def assignments_of(conn: Connection, project_id: str, related_ids: list[str]) -> list[Row]:
    """Every assignment to one of ``related_ids``, oldest first."""
    if not related_ids:
        return []
    stmt = (
        sa.select(assignments)
        .where(
            assignments.c.project_id == project_id,
            assignments.c.related_object_id.in_(sorted(set(related_ids))),
        )
        .order_by(assignments.c.created_at, assignments.c.id)
    )
    return list(conn.execute(stmt).mappings())


@lru_cache(maxsize=64)
def _rules_of(count: int) -> Prepared:
    # One compiled statement per number of objects asked about (a request names a few): the
    # lookup runs in every validation, where building and compiling it cost more than the
    # query itself (py-spy: 40% of a validation without rules).
    return Prepared(
        sa.select(assignments.c.related_object_id, rules)
        .join(rules, rules.c.id == assignments.c.rule_id)
        .where(
            assignments.c.project_id == sa.bindparam("_project_id"),
            assignments.c.related_object_id.in_([sa.bindparam(f"_id{i}") for i in range(count)]),
        )
        .order_by(assignments.c.created_at, assignments.c.id)
    )


def rules_of(conn: Connection, project_id: str, related_ids: list[str]) -> list[tuple[str, Row]]:
    """(related object id, rule) for every rule assigned to one of ``related_ids``. The rows
    may come from the kept reader's cache (:mod:`tally.db.read_cache`): never to be changed."""
    wanted = sorted(set(related_ids))
    if not wanted:
        return []
    params = {f"_id{i}": related_id for i, related_id in enumerate(wanted)}
    params["_project_id"] = project_id
    return [
        (str(row["related_object_id"]), row)
        for row in _rules_of(len(wanted)).all_kept(conn, params)
    ]
