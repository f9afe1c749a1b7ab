"""Check JSON values against the official Voucherify OpenAPI 3.0 schemas.

    assert_matches(response.json(), file="orders", schema="OrdersGetResponseBody")

The schemas are read from ``<repo>/../shared/spec/openapi/<file>.json`` (override with
``$TALLY_SPEC_DIR``). OpenAPI 3.0 schema objects are JSON Schema Draft 4 plus a few extra
keywords; the one that changes validation is ``nullable: true``. Each file is translated
once (on a deep copy): every schema with ``nullable: true`` becomes
``{"anyOf": [{"type": "null"}, <schema>]}``, which also covers nullable ``allOf``/``enum``
schemas that have no ``type``. ``date-time`` and ``date`` formats are checked (RFC 3339).

One more translation works around a defect of the official files: a ``oneOf`` with two or
more branches that are objects requiring nothing (validations.json's redeemable ``result``:
voucher, gift card, loyalty card, promotion tier, stack; async-actions.json's ``result``, one
branch per action type) matches every such value more than once, so no value could ever
pass it. Such a ``oneOf`` is checked as ``anyOf``; any other ``oneOf`` stays as it is.
"""

from __future__ import annotations

import functools
import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Any

# jsonschema ships no type information (types-jsonschema is not a project dependency).
from jsonschema import Draft4Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

REPO_ROOT = Path(__file__).resolve().parents[2]

# Values, not schemas: never rewrite what is inside them.
_LITERAL_KEYWORDS = frozenset({"example", "examples", "enum", "default", "const", "x-examples"})

_DATE_TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

FORMAT_CHECKER = FormatChecker(formats=())


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    match = _DATE_TIME.match(value)
    if match is None:
        return False
    day, hour, minute, second = match.group(1, 2, 3, 4)
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    offset = match.group(6)
    offset_ok = len(offset) == 1 or (int(offset[1:3]) < 24 and int(offset[4:6]) < 60)
    return int(hour) < 24 and int(minute) < 60 and int(second) < 60 and offset_ok


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _DATE.match(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


FORMAT_CHECKER.checks("date-time")(_is_date_time)
FORMAT_CHECKER.checks("date")(_is_date)


def spec_dir() -> Path:
    """The shared specification folder (``BEHAVIOR.md``, ``openapi/``, ``docs/``...)."""
    override = os.environ.get("TALLY_SPEC_DIR")
    path = Path(override) if override else REPO_ROOT.parent / "shared" / "spec"
    if not (path / "openapi").is_dir():
        raise FileNotFoundError(
            f"spec folder not found at {path}: clone 'shared' next to the repository "
            "or set TALLY_SPEC_DIR"
        )
    return path


def openapi_to_jsonschema(node: Any) -> Any:
    """A converted deep copy of an OpenAPI 3.0 schema (or whole document); see module doc."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: (value if key in _LITERAL_KEYWORDS else openapi_to_jsonschema(value))
        for key, value in node.items()
    }
    # Only a boolean is the keyword: a *property* named "nullable" maps to a schema object.
    nullable = out.get("nullable")
    if isinstance(nullable, bool):
        del out["nullable"]
        if nullable:
            return {"anyOf": [{"type": "null"}, out]}
    return out


def _normalise_file(file: str) -> str:
    return file.removesuffix(".json")


@functools.cache
def load_document(file: str) -> dict[str, Any]:
    """The converted OpenAPI document ``openapi/<file>.json``."""
    path = spec_dir() / "openapi" / f"{_normalise_file(file)}.json"
    with path.open(encoding="utf-8") as handle:
        raw = json.load(handle)
    converted: dict[str, Any] = openapi_to_jsonschema(raw)
    _loosen_ambiguous_one_of(converted, converted.get("components", {}).get("schemas", {}))
    return converted


def _requires_nothing(branch: Any, schemas: dict[str, Any]) -> bool:
    ref = branch.get("$ref") if isinstance(branch, dict) else None
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        branch = schemas.get(ref.rsplit("/", 1)[1])
    if not isinstance(branch, dict):
        return False
    composed = any(key in branch for key in ("allOf", "oneOf", "anyOf", "$ref"))
    return branch.get("type") == "object" and "required" not in branch and not composed


def _loosen_ambiguous_one_of(node: Any, schemas: dict[str, Any]) -> None:
    """See the module doc: ``oneOf`` over objects that require nothing becomes ``anyOf``."""
    if isinstance(node, list):
        for item in node:
            _loosen_ambiguous_one_of(item, schemas)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key not in _LITERAL_KEYWORDS:
            _loosen_ambiguous_one_of(value, schemas)
    branches = node.get("oneOf")
    if isinstance(branches, list) and sum(_requires_nothing(b, schemas) for b in branches) >= 2:
        node["anyOf"] = node.pop("oneOf")


@functools.cache
def validator_for(file: str, schema: str) -> Draft4Validator:
    file = _normalise_file(file)
    document = load_document(file)
    schemas = document.get("components", {}).get("schemas", {})
    if schema not in schemas:
        raise KeyError(f"no schema {schema!r} in openapi/{file}.json")
    uri = f"urn:tally-spec:{file}"
    registry: Registry[Any] = Registry().with_resource(
        uri, Resource.from_contents(document, default_specification=DRAFT4)
    )
    return Draft4Validator(
        {"$ref": f"{uri}#/components/schemas/{schema}"},
        registry=registry,
        format_checker=FORMAT_CHECKER,
    )


def _where(path: Any) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)


_NULL_BRANCH = {"type": "null"}


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """Unwrap the anyOf added for ``nullable`` so the report names the real problem."""
    options = error.validator_value
    if (
        error.validator == "anyOf"
        and isinstance(options, list)
        and len(options) == 2
        and options[0] == _NULL_BRANCH
    ):
        inner = [e for e in error.context or () if e.relative_schema_path[0] == 1]
        leaves = [leaf for e in inner for leaf in _leaf_errors(e)]
        if leaves:
            return leaves
    return [error]


def schema_errors(value: Any, file: str, schema: str) -> list[str]:
    """Human-readable violations of ``schema`` by ``value``; empty when it conforms."""
    validator = validator_for(_normalise_file(file), schema)
    leaves = [leaf for error in validator.iter_errors(value) for leaf in _leaf_errors(error)]
    leaves.sort(key=lambda e: [str(part) for part in e.absolute_path])
    return [f"{_where(e.absolute_path)}: {e.message}" for e in leaves]


def assert_matches(value: Any, file: str, schema: str) -> None:
    """Fail with every violation if ``value`` does not conform to the named schema."""
    errors = schema_errors(value, file, schema)
    if errors:
        shown = "\n  ".join(errors[:25])
        more = f"\n  ... and {len(errors) - 25} more" if len(errors) > 25 else ""
        raise AssertionError(
            f"value does not match {file}.json#/components/schemas/{schema}:\n  {shown}{more}"
        )
