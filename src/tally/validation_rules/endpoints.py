"""HTTP routes of /v1/validation-rules and their assignments: parse, call the service,
shape the response."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response

from tally.clock import parse_datetime, utcnow
from tally.errors import invalid_query
from tally.validation_rules import presenter, service
from tally.validation_rules.schemas import (
    AssignmentCreate,
    AssignmentOut,
    AssignmentsListOut,
    RuleCreate,
    RuleOut,
    RulesListOut,
    RuleUpdate,
)
from tally.web.bodies import OrjsonRoute
from tally.web.context import ProjectId, respond, respond_empty
from tally.web.params import Limit, Page

router = APIRouter(
    prefix="/v1/validation-rules", tags=["Validation rules"], route_class=OrjsonRoute
)
# Every assignment of the project, filtered by rule or object.
assignments_router = APIRouter(
    prefix="/v1/validation-rules-assignments", tags=["Validation rules"], route_class=OrjsonRoute
)

RuleId = Annotated[str, Path(min_length=1, max_length=64)]
AssignmentId = Annotated[str, Path(min_length=1, max_length=64)]
RuleSort = Literal["created_at", "-created_at", "updated_at", "-updated_at", "name", "-name"]


def _date(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        raise invalid_query(
            f"Property .{name} cannot be recognized as a ISO-8601 compliant date"
        ) from None


@router.post("", responses={200: {"model": RuleOut}}, operation_id="create-validation-rules")
async def create_rule(
    request: Request, project_id: ProjectId, body: Annotated[RuleCreate, Body()]
) -> Response:
    """Create a validation rule; its document is checked whole (400 invalid_validation_rules
    says what is wrong)."""
    return await respond(
        request,
        lambda conn: presenter.rule_json(
            service.create(conn, project_id=project_id, body=body, now=utcnow())
        ),
        write=True,
    )


@router.get("", responses={200: {"model": RulesListOut}}, operation_id="list-validation-rules")
async def list_rules(
    request: Request,
    project_id: ProjectId,
    limit: Limit = 10,
    page: Page = 1,
    order: RuleSort = "-created_at",
    start_date: Annotated[str | None, Query(max_length=64)] = None,
    end_date: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The project's validation rules, newest first, created between the dates given."""
    after, before = _date(start_date, "start_date"), _date(end_date, "end_date")
    return await respond(
        request,
        lambda conn: presenter.rules_page(
            *service.list_page(
                conn,
                project_id=project_id,
                limit=limit,
                page=page,
                order=order,
                after=after,
                before=before,
            )
        ),
        write=False,
    )


@router.get(
    "/{validationRuleId}", responses={200: {"model": RuleOut}}, operation_id="get-validation-rule"
)
async def get_rule(request: Request, project_id: ProjectId, validationRuleId: RuleId) -> Response:
    """A validation rule by its id."""
    return await respond(
        request,
        lambda conn: presenter.rule_json(
            service.get(conn, project_id=project_id, rule_id=validationRuleId)
        ),
        write=False,
        quick=True,
    )


@router.put(
    "/{validationRuleId}",
    responses={200: {"model": RuleOut}},
    operation_id="update-validation-rule",
)
async def update_rule(
    request: Request,
    project_id: ProjectId,
    validationRuleId: RuleId,
    body: Annotated[RuleUpdate, Body()],
) -> Response:
    """Change the fields sent; `rules`, when sent, replaces the whole document."""
    return await respond(
        request,
        lambda conn: presenter.rule_json(
            service.update(
                conn, project_id=project_id, rule_id=validationRuleId, body=body, now=utcnow()
            )
        ),
        write=True,
    )


@router.delete("/{validationRuleId}", status_code=204, operation_id="delete-validation-rules")
async def delete_rule(
    request: Request, project_id: ProjectId, validationRuleId: RuleId
) -> Response:
    """Delete a rule that is assigned to nothing (400 resource_in_use otherwise)."""
    return await respond_empty(
        request, lambda conn: service.delete(conn, project_id=project_id, rule_id=validationRuleId)
    )


@router.post(
    "/{validationRuleId}/assignments",
    responses={200: {"model": AssignmentOut}},
    operation_id="create-validation-rule-assignment",
)
async def assign_rule(
    request: Request,
    project_id: ProjectId,
    validationRuleId: RuleId,
    body: Annotated[AssignmentCreate, Body()],
    force: bool = False,
) -> Response:
    """Assign the rule to a voucher, a campaign or a promotion tier; with `force`, an
    existing assignment of the same pair is replaced."""
    return await respond(
        request,
        lambda conn: presenter.assignment_json(
            service.assign(
                conn,
                project_id=project_id,
                rule_id=validationRuleId,
                body=body,
                force=force,
                now=utcnow(),
            )
        ),
        write=True,
    )


@router.get(
    "/{validationRuleId}/assignments",
    responses={200: {"model": AssignmentsListOut}},
    operation_id="list-validation-rule-assignments",
)
async def list_assignments(
    request: Request,
    project_id: ProjectId,
    validationRuleId: RuleId,
    limit: Limit = 10,
    page: Page = 1,
    order: Literal["created_at", "-created_at"] = "-created_at",
) -> Response:
    """The rule's assignments."""
    return await respond(
        request,
        lambda conn: presenter.assignments_page(
            *service.assignments_page(
                conn,
                project_id=project_id,
                rule_id=validationRuleId,
                limit=limit,
                page=page,
                order=order,
            )
        ),
        write=False,
    )


@router.delete(
    "/{validationRuleId}/assignments/{assignmentId}",
    status_code=204,
    operation_id="delete-validation-rule-assignment",
)
async def unassign_rule(
    request: Request, project_id: ProjectId, validationRuleId: RuleId, assignmentId: AssignmentId
) -> Response:
    """Remove one assignment."""
    return await respond_empty(
        request,
        lambda conn: service.unassign(
            conn, project_id=project_id, rule_id=validationRuleId, assignment_id=assignmentId
        ),
    )


@assignments_router.get(
    "",
    responses={200: {"model": AssignmentsListOut}},
    operation_id="list-validation-rules-assignments",
)
async def list_all_assignments(
    request: Request,
    project_id: ProjectId,
    related_object_id: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    rule: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Limit = 10,
    page: Page = 1,
    order: Literal["created_at", "-created_at"] = "-created_at",
) -> Response:
    """The project's assignments: of one rule (``rule``), of one voucher, campaign or
    promotion tier (``related_object_id``), or all."""
    return await respond(
        request,
        lambda conn: presenter.assignments_page(
            *service.assignments_page(
                conn,
                project_id=project_id,
                rule_id=rule,
                related_object_id=related_object_id,
                limit=limit,
                page=page,
                order=order,
            )
        ),
        write=False,
    )
