"""Export filters (BEHAVIOR 18.4): read and checked when the export is created, turned into
SQL when it runs.

``{"junction": "and"|"or", <field>: {"conditions": {<$op>: value or [values]}}}``: the
conditions of one field must all hold; the junction joins the fields. Text comparisons are
case-sensitive on both engines; a metadata value compares by its JSON type (a number only
with numbers, text only with text), the same on both.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from tally.clock import parse_datetime
from tally.errors import TallyError, invalid_payload
from tally.exports.columns import METADATA_PREFIX, FilterKind, Source

# Every condition name the spec knows (its 400 lists them).
SPEC_OPERATORS = (
    "$in, $not_in, $in_location, $not_in_location, $is, $is_days_ago, $is_days_in_future, "
    "$is_not, $has_value, $is_unknown, $contains, $not_contain, $starts_with, $ends_with, "
    "$more_than, $less_than, $more_than_ago, $less_than_ago, $more_than_future, "
    "$less_than_future, $more_than_equal, $less_than_equal, $after, $before, $count, "
    "$count_less, $count_more, $today, $tomorrow, $yesterday, $this_week, $last_week, "
    "$next_week, $this_month, $last_month, $next_month, $this_year, $next_year, $last_year, "
    "$is_day_of_month, $is_day, $is_month, $is_year, $today_md, $tomorrow_md, $yesterday_md, "
    "$this_week_md, $last_week_md, $next_week_md, $this_month_md, $last_month_md, "
    "$next_month_md, $is_days_ago_md, $is_more_days_ago_md, $is_less_days_ago_md, "
    "$is_days_in_future_md, $is_more_days_in_future_md, $is_less_days_in_future_md, "
    "$is_years_ago, $active, $failed, $in_progress, $expired, $before_start, $enabled, "
    "$disabled, $redeemed, $redeemable"
)
_KNOWN = frozenset(SPEC_OPERATORS.split(", "))
_MALFORMED = (
    "Property .parameters.filters should match either "
    "`filters[${field}][conditions][${condition}][${index}]` or "
    "`filters[${field}][conditions][${condition}]` format and condition must be one of: "
    + SPEC_OPERATORS
)

_PRESENCE = ("$has_value", "$is_unknown")
_EQUALITY = ("$is", "$is_not", "$in", "$not_in")
_TEXT = ("$contains", "$not_contain", "$starts_with", "$ends_with")
_ORDERING = ("$more_than", "$less_than", "$more_than_equal", "$less_than_equal")
BUILT: dict[str, tuple[str, ...]] = {
    "text": _PRESENCE + _EQUALITY + _TEXT,
    "number": _PRESENCE + _EQUALITY + _ORDERING,
    "time": ("$after", "$before", *_PRESENCE),
    "metadata": _PRESENCE + _EQUALITY + _TEXT + _ORDERING,
}
# Keys are bound as parameters on PostgreSQL; in a SQLite JSON path a double quote or a
# backslash would end or escape the quoted key, so such keys are refused.
_PATH_UNSAFE = frozenset('"\\\x00')
MAX_FILTERS = 20
MAX_VALUES = 100
MAX_TEXT = 1000


@dataclass(frozen=True)
class Condition:
    op: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class FieldFilter:
    field: str
    kind: str  # FilterKind or "metadata"
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Filters:
    junction: str
    fields: tuple[FieldFilter, ...]


def parse(source: Source, raw: Mapping[str, Any] | None) -> Filters:
    """The filters of an export request, or the 400 that says what is wrong with them."""
    if not raw:
        return Filters("and", ())
    if not isinstance(raw, Mapping):
        raise _malformed()
    junction = raw.get("junction", "and")
    if not isinstance(junction, str) or junction.lower() not in ("and", "or"):
        raise invalid_payload(
            "Property .parameters.filters.junction should be equal to one of the allowed "
            "values [ and, or ]"
        )
    fields = [(name, spec) for name, spec in raw.items() if name != "junction"]
    if len(fields) > MAX_FILTERS:
        raise invalid_payload(f"Property .parameters.filters: at most {MAX_FILTERS} fields")
    return Filters(junction.lower(), tuple(_field(source, name, spec) for name, spec in fields))


def _field(source: Source, name: str, spec: Any) -> FieldFilter:
    kind: str
    if name in source.filters:
        kind = source.filters[name].kind
    elif name.startswith(METADATA_PREFIX) and len(name) > len(METADATA_PREFIX):
        if _PATH_UNSAFE & set(name):
            raise invalid_payload(
                f"Property .parameters.filters.{name}: a metadata key with a double quote, "
                "a backslash or a NUL cannot be filtered on"
            )
        kind = "metadata"
    elif name in source.unbuilt_filters:
        raise invalid_payload(
            f"Property .parameters.filters.{name} is not supported by Tally yet for "
            f"{source.name} exports"
        )
    else:
        allowed = ", ".join([*source.filters, "metadata.<key>"])
        raise invalid_payload(
            f"Property .parameters.filters.{name} is not a filter of {source.name} exports. "
            f"Allowed filters: {allowed}"
        )
    if not isinstance(spec, Mapping) or set(spec) != {"conditions"}:
        raise _malformed()
    conditions = spec["conditions"]
    if not isinstance(conditions, Mapping) or not conditions:
        raise _malformed()
    out = []
    for op, value in conditions.items():
        if op not in _KNOWN:
            raise _malformed()
        if op not in BUILT[kind]:
            raise invalid_payload(
                f"Property .parameters.filters.{name}.conditions.{op} is not supported by "
                f"Tally yet; for this field use one of: {', '.join(BUILT[kind])}"
            )
        if op in _PRESENCE and _is_false(value):
            # "$has_value": false asks for the records without one.
            op = "$is_unknown" if op == "$has_value" else "$has_value"
        out.append(Condition(op, _values(name, kind, op, value)))
    return FieldFilter(name, kind, tuple(out))


def _is_false(value: Any) -> bool:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value is False or value == "false"


def _values(name: str, kind: str, op: str, value: Any) -> tuple[Any, ...]:
    values = tuple(value) if isinstance(value, list) else (value,)
    where = f"Property .parameters.filters.{name}.conditions.{op}"
    if op in _PRESENCE:
        return ()
    if op in ("$in", "$not_in"):
        if not values or len(values) > MAX_VALUES:
            raise invalid_payload(f"{where} should have 1 to {MAX_VALUES} values")
    elif len(values) != 1:
        raise invalid_payload(f"{where} should have exactly one value")
    return tuple(_value(where, kind, op, v) for v in values)


def _value(where: str, kind: str, op: str, value: Any) -> Any:
    _storable(where, value)
    if kind == "time":
        if not isinstance(value, str):
            raise invalid_payload(f"{where} should be an ISO 8601 date-time")
        try:
            parse_datetime(value)
        except (ValueError, OverflowError):
            raise invalid_payload(f"{where} should be an ISO 8601 date-time") from None
        return value
    if kind == "number" or (kind == "metadata" and op in _ORDERING):
        number = _number(value)
        if number is None:
            raise invalid_payload(f"{where} should be a number")
        return number
    if kind == "text" or op in _TEXT:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise invalid_payload(f"{where} should be a string")
        return value if isinstance(value, str) else orjson.dumps(value).decode()
    # A metadata value compared for equality keeps its JSON type.
    if value is not None and not isinstance(value, str | int | float | bool):
        raise invalid_payload(f"{where} should be a string, a number or a boolean")
    return value


_INT64 = 2**63


def _storable(where: str, value: Any) -> None:
    """What the export keeps and both databases compare: finite numbers within 64 bits, text
    without NUL (which PostgreSQL's text and jsonb cannot hold) and of a sane length."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise invalid_payload(f"{where} should be a finite number")
    if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
        raise invalid_payload(f"{where} should be a number within 64 bits")
    if isinstance(value, str) and ("\x00" in value or len(value) > MAX_TEXT):
        raise invalid_payload(f"{where} should be text of at most {MAX_TEXT} characters, no NUL")


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            as_float = float(value)
        except ValueError:
            return None
        if as_float != as_float or as_float in (float("inf"), float("-inf")):
            return None
        if value.strip().lstrip("+-").isdigit():
            number = int(value)
            return number if -_INT64 <= number < _INT64 else None
        return as_float
    return None


def _malformed() -> TallyError:
    return invalid_payload(_MALFORMED)


# --- SQL ---------------------------------------------------------------------------------


def to_sql(
    source: Source, filters: Filters, dialect: str, table: sa.Table
) -> sa.ColumnElement[Any] | None:
    """The WHERE clause of ``filters`` on ``dialect`` ("sqlite" or "postgresql")."""
    parts = [_field_sql(source, f, dialect, table) for f in filters.fields]
    if not parts:
        return None
    return sa.or_(*parts) if filters.junction == "or" else sa.and_(*parts)


def _field_sql(
    source: Source, f: FieldFilter, dialect: str, table: sa.Table
) -> sa.ColumnElement[Any]:
    if f.kind == "metadata":
        json = _Json(table.c.metadata, f.field[len(METADATA_PREFIX) :], dialect)
        return sa.and_(*[_metadata_condition(json, c, dialect) for c in f.conditions])
    column = source.filters[f.field].sql(table)
    kind: FilterKind = source.filters[f.field].kind
    return sa.and_(*[_column_condition(column, kind, c, dialect) for c in f.conditions])


def _column_condition(
    column: sa.ColumnElement[Any], kind: FilterKind, c: Condition, dialect: str
) -> sa.ColumnElement[Any]:
    if c.op == "$has_value":
        return column.is_not(None)
    if c.op == "$is_unknown":
        return column.is_(None)
    if kind == "time":
        moment: datetime = parse_datetime(c.values[0])
        return column > moment if c.op == "$after" else column < moment
    return _compare(column, c, dialect)


def _compare(column: sa.ColumnElement[Any], c: Condition, dialect: str) -> sa.ColumnElement[Any]:
    """Equality, ordering and text conditions of one value expression (NULL never matches
    a positive condition and always matches a negative one)."""
    values = c.values
    if c.op == "$in":
        return column.in_(values)
    if c.op == "$not_in":
        return sa.or_(column.is_(None), column.not_in(values))
    value: sa.ColumnElement[Any] = sa.literal(values[0])
    if c.op == "$is":
        return column == value
    if c.op == "$is_not":
        return sa.or_(column.is_(None), column != value)
    if c.op == "$more_than":
        return column > value
    if c.op == "$less_than":
        return column < value
    if c.op == "$more_than_equal":
        return column >= value
    if c.op == "$less_than_equal":
        return column <= value
    return _text(column, c.op, values[0], dialect)


def _text(
    column: sa.ColumnElement[Any], op: str, value: str, dialect: str
) -> sa.ColumnElement[Any]:
    # Functions, not LIKE: LIKE ignores case on SQLite and needs its wildcards escaped.
    if op in ("$contains", "$not_contain"):
        find = sa.func.instr if dialect == "sqlite" else sa.func.strpos
        found = find(column, value) > 0
        return found if op == "$contains" else sa.or_(column.is_(None), sa.not_(found))
    if op == "$starts_with":
        return sa.func.substr(column, 1, len(value)) == value
    if dialect == "sqlite":
        return sa.func.substr(column, -len(value)) == value if value else column.is_not(None)
    return sa.func.right(column, len(value)) == value


class _Json:
    """One key of a JSON column on either engine, read as a value of one JSON type."""

    def __init__(self, column: sa.ColumnElement[Any], key: str, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        if self.sqlite:
            path = '$."' + key + '"'
            self._type: sa.ColumnElement[Any] = sa.func.json_type(column, path)
            self._value: sa.ColumnElement[Any] = sa.func.json_extract(column, path)
            self._scalar: sa.ColumnElement[Any] = self._value
        else:
            node = column.op("->")(sa.literal(key, sa.Text))
            self._type = sa.func.jsonb_typeof(node)
            self._value = node
            self._scalar = node.op("#>>")(sa.literal_column("'{}'"))

    def present(self) -> sa.ColumnElement[Any]:
        return sa.and_(self._type.is_not(None), self._type != "null")

    def as_text(self) -> sa.ColumnElement[Any]:
        kind = "text" if self.sqlite else "string"
        return sa.case((self._type == kind, self._scalar), else_=sa.null())

    def as_number(self) -> sa.ColumnElement[Any]:
        if self.sqlite:
            return sa.case((self._type.in_(("integer", "real")), self._scalar), else_=sa.null())
        number = sa.cast(self._scalar, sa.Numeric)
        return sa.case((self._type == "number", number), else_=sa.null())

    def as_bool(self) -> sa.ColumnElement[Any]:
        """'true', 'false' or NULL."""
        if self.sqlite:
            return sa.case((self._type.in_(("true", "false")), self._type), else_=sa.null())
        return sa.case((self._type == "boolean", self._scalar), else_=sa.null())

    def typed(self, value: Any) -> tuple[sa.ColumnElement[Any], Any]:
        """The expression to compare ``value`` with, and ``value`` in its form."""
        if isinstance(value, bool):
            return self.as_bool(), "true" if value else "false"
        if isinstance(value, int | float):
            return self.as_number(), value
        return self.as_text(), value


def _metadata_condition(json: _Json, c: Condition, dialect: str) -> sa.ColumnElement[Any]:
    if c.op == "$has_value":
        return json.present()
    if c.op == "$is_unknown":
        return sa.not_(json.present())
    if c.op in ("$is", "$in", "$is_not", "$not_in"):
        matches = []
        for value in c.values:
            if value is None:
                matches.append(sa.not_(json.present()))
                continue
            expression, typed = json.typed(value)
            matches.append(sa.and_(expression.is_not(None), expression == typed))
        found = sa.or_(*matches)
        return found if c.op in ("$is", "$in") else sa.not_(found)
    if c.op in _ORDERING:
        return _compare(json.as_number(), c, dialect)
    return _text(json.as_text(), c.op, c.values[0], dialect)
