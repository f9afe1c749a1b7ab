"""Validation rule documents (BEHAVIOR 16): checked once when a rule is saved, then evaluated
against an order, its customer and the customer's purchase history. Pure: what the rules
read arrives in a :class:`Facts`; nothing here touches a database.

A document is ``{"1": entry, "2": entry, ..., "logic": "(1 and 2) or 3"}``; an entry is
``{"name", "property"?, "conditions": {"$op": [values]}, "rules": {nested document},
"error": {"message"}?}``. An entry holds when every one of its conditions holds and its
nested document holds.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from tally.core.durations import fixed_duration

MAX_ENTRIES = 50
MAX_DEPTH = 4
MAX_VALUES = 100
MAX_TEXT = 1000
# Parentheses and "not"s a logic expression may nest: its parser recurses at each level.
MAX_LOGIC_DEPTH = 32


class RuleError(ValueError):
    """A rule document that cannot be evaluated: the message says what and where."""


# ---------------------------------------------------------------- what rules read


@dataclass(frozen=True)
class LineFacts:
    """One order line as rules see it. ``price`` is the unit price; ``amount`` the line's
    amount before discounts, in cents."""

    quantity: int
    price: int | None
    amount: int
    product_id: str | None = None
    product_source_id: str | None = None
    sku_id: str | None = None
    sku_source_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class History:
    """How many of the customer's counted orders (PAID or FULFILLED, the order under
    validation left out) fall in a window, and their total amount."""

    count: int
    amount: int


@dataclass(frozen=True)
class Window:
    """Which past orders a purchase-history rule counts: created after ``after`` and
    before ``before`` (either may be open)."""

    after: datetime | None = None
    before: datetime | None = None


@dataclass(frozen=True)
class Facts:
    """Everything an evaluation reads. ``amount``: what is left to pay on the order when
    this redeemable comes to apply (it changes while stacking); ``total_amount``: what is
    left once it has applied; ``initial_amount``: the cart before any discount."""

    amount: int
    total_amount: int
    initial_amount: int
    lines: Sequence[LineFacts]
    metadata: Mapping[str, Any]
    now: datetime
    customer_metadata: Mapping[str, Any] | None = None
    history: Callable[[Window], History] | None = None


# ---------------------------------------------------------------- rule names and operators

_NUMBER_OPS = frozenset(
    {
        "$is",
        "$is_not",
        "$in",
        "$not_in",
        "$less_than",
        "$less_than_or_equal",
        "$more_than",
        "$more_than_or_equal",
    }
)
_TEXT_OPS = frozenset({"$starts_with", "$ends_with", "$contains"})
_LIST_OPS = frozenset({"$count", "$count_more", "$count_less", "$not_differ", "$not_intersect"})
_DATE_OPS = frozenset(
    {
        "$after",
        "$before",
        "$more_than_ago",
        "$less_than_ago",
        "$is_days_ago",
        "$more_than_future",
        "$less_than_future",
        "$is_days_in_future",
        "$timeframe",
        "$timeframe_absolute",
        "$timeframe_daily_hours",
        "$dow",
    }
)
_ANY_OPS = _NUMBER_OPS | _TEXT_OPS | _LIST_OPS | _DATE_OPS | {"$is_unknown"}
_SINGLE = frozenset(
    {
        "$less_than",
        "$less_than_or_equal",
        "$more_than",
        "$more_than_or_equal",
        "$starts_with",
        "$ends_with",
        "$contains",
        "$count",
        "$count_more",
        "$count_less",
        "$after",
        "$before",
        "$more_than_ago",
        "$less_than_ago",
        "$is_days_ago",
        "$more_than_future",
        "$less_than_future",
        "$is_days_in_future",
    }
)
_ITEM_SUBRULES = frozenset(
    {
        "order.items.quantity",
        "order.items.aggregated_quantity",
        "order.items.price",
        "order.items.aggregated_amount",
        "order.items.metadata",
    }
)


@dataclass(frozen=True)
class _Name:
    kind: str  # number | any | items | window
    ops: frozenset[str]
    needs_property: bool = False
    subrules: frozenset[str] = frozenset()


_NAMES: dict[str, _Name] = {
    **{
        name: _Name("number", _NUMBER_OPS)
        for name in (
            "order.amount",
            "order.total_amount",
            "order.initial_amount",
            "order.items.count",
            "order.items.price_any",
            "order.items.price_each",
        )
    },
    **{
        name: _Name("any", _ANY_OPS, needs_property=True)
        for name in (
            "order.metadata",
            "order.items.metadata_any",
            "order.items.metadata_each",
            "customer.metadata",
        )
    },
    **{
        name: _Name("items", frozenset({"$is", "$in"}), subrules=_ITEM_SUBRULES)
        for name in ("order.items.any", "order.items.every", "order.items.none")
    },
    **{
        name: _Name("history", _NUMBER_OPS, subrules=frozenset({"x.customer.orders.created_at"}))
        for name in ("x.customer.orders.count", "x.customer.orders.amount")
    },
}
# Names that only appear nested under another rule.
_NESTED: dict[str, _Name] = {
    "order.items.quantity": _Name("number", _NUMBER_OPS),
    "order.items.aggregated_quantity": _Name("number", _NUMBER_OPS),
    "order.items.price": _Name("number", _NUMBER_OPS),
    "order.items.aggregated_amount": _Name("number", _NUMBER_OPS),
    "order.items.metadata": _Name("any", _ANY_OPS, needs_property=True),
    "x.customer.orders.created_at": _Name(
        "window", frozenset({"$after", "$before", "$more_than_ago", "$less_than_ago"})
    ),
}


# ---------------------------------------------------------------- parsed form


@dataclass(frozen=True)
class Entry:
    number: str
    name: str
    prop: str | None
    conditions: tuple[tuple[str, tuple[Any, ...]], ...]
    nested: "Document"
    message: str | None


@dataclass(frozen=True)
class Document:
    entries: Mapping[str, Entry]
    logic: Any  # a parsed expression: str (entry number) | ("and"|"or", [parts])

    @property
    def empty(self) -> bool:
        return not self.entries


EMPTY = Document({}, ("and", []))


def parse(
    rules: Any, *, _path: str = "rules", _depth: int = 0, _parent: str | None = None
) -> Document:
    """The checked form of a rule document, or :class:`RuleError` saying what is wrong."""
    if rules is None or rules == {}:
        return EMPTY
    if not isinstance(rules, Mapping):
        raise RuleError(f"{_path} must be an object")
    if _depth >= MAX_DEPTH:
        raise RuleError(f"{_path} nests rules more than {MAX_DEPTH} levels deep")
    entries: dict[str, Entry] = {}
    logic_text: Any = None
    for key, value in rules.items():
        if key == "logic":
            logic_text = value
            continue
        # ASCII only: str.isdigit() also admits other scripts' digits (U+0661, U+FF11), which
        # logic does not read; at most four digits, so int() never meets too long a number.
        if not (
            isinstance(key, str)
            and key.isascii()
            and key.isdigit()
            and len(key) <= 4
            and not key.startswith("0")
        ):
            raise RuleError(
                f"{_path} has key {str(key)[:20]!r}: keys are rule numbers 1, 2, ... and logic"
            )
        entries[key] = _entry(key, value, f"{_path}.{key}", _depth, _parent)
    if len(entries) > MAX_ENTRIES:
        raise RuleError(f"{_path} has more than {MAX_ENTRIES} rules")
    if logic_text is None or (isinstance(logic_text, str) and not logic_text.strip()):
        logic: Any = ("and", sorted(entries, key=int))
    elif isinstance(logic_text, str):
        logic = _parse_logic(logic_text, set(entries), f"{_path}.logic")
    else:
        raise RuleError(f'{_path}.logic must be a string such as "(1 and 2) or 3"')
    return Document(entries, logic)


def _entry(number: str, raw: Any, path: str, depth: int, parent: str | None) -> Entry:
    if not isinstance(raw, Mapping):
        raise RuleError(f"{path} must be an object with a name and conditions")
    name = raw.get("name")
    known = _NESTED if parent is not None else _NAMES
    spec = known.get(name) if isinstance(name, str) else None
    if (
        not isinstance(name, str)
        or spec is None
        or (parent is not None and name not in _NAMES[parent].subrules)
    ):
        where = f"under {parent}" if parent is not None else "at the top level"
        allowed = sorted(_NAMES[parent].subrules) if parent is not None else sorted(_NAMES)
        raise RuleError(
            f"{path}.name {name!r} is not a rule Tally evaluates {where}; one of: "
            + ", ".join(allowed)
        )
    prop = raw.get("property")
    if spec.needs_property:
        if not isinstance(prop, str) or not prop or len(prop) > 255:
            raise RuleError(f"{path}.property is required for {name}: the metadata key")
    elif prop is not None:
        raise RuleError(f"{path}.property is only for metadata rules, not {name}")
    conditions_raw = raw.get("conditions") or {}
    if not isinstance(conditions_raw, Mapping):
        raise RuleError(f'{path}.conditions must be an object such as {{"$is": [1]}}')
    conditions = []
    for op, values in conditions_raw.items():
        conditions.append((op, _values(op, values, spec, name, f"{path}.conditions.{op}")))
    if not conditions and spec.kind != "window":
        raise RuleError(f"{path}.conditions must hold at least one condition")
    nested_raw = raw.get("rules")
    # {"logic": ""} is how an entry without nested rules is printed: no rules either.
    has_nested = isinstance(nested_raw, Mapping) and any(k != "logic" for k in nested_raw)
    if (has_nested or (nested_raw and not isinstance(nested_raw, Mapping))) and not spec.subrules:
        raise RuleError(f"{path}.rules: {name} takes no nested rules")
    nested = parse(nested_raw, _path=f"{path}.rules", _depth=depth + 1, _parent=name)
    error = raw.get("error")
    message = None
    if error is not None:
        message = error.get("message") if isinstance(error, Mapping) else None
        if not isinstance(message, str) or len(message) > MAX_TEXT:
            raise RuleError(f'{path}.error must be {{"message": text of at most {MAX_TEXT}}}')
    return Entry(number, name, prop, tuple(conditions), nested, message)


def _values(op: Any, values: Any, spec: _Name, name: str, path: str) -> tuple[Any, ...]:
    if op == "$from":
        raise RuleError(f"{path}: $from names a product collection; Tally has none yet")
    if op not in spec.ops:
        raise RuleError(
            f"{path}: {op!r} is not a condition of {name}; one of: " + ", ".join(sorted(spec.ops))
        )
    if op == "$is_unknown":
        return ()
    if not isinstance(values, list) or not values or len(values) > MAX_VALUES:
        raise RuleError(f"{path} must be a list of 1 to {MAX_VALUES} values")
    if op in _SINGLE and len(values) != 1:
        raise RuleError(f"{path} takes exactly one value")
    if spec.kind == "items":
        return tuple(_item_ref(value, f"{path}[{i}]") for i, value in enumerate(values))
    out: list[Any] = []
    for i, value in enumerate(values):
        where = f"{path}[{i}]"
        if op == "$timeframe_absolute":
            out.append(_span(value, where))
        elif op == "$timeframe":
            out.append(_recurring(value, where))
        elif op == "$timeframe_daily_hours":
            out.append(_daily_hours(value, where))
        elif op == "$dow":
            if isinstance(value, bool) or value not in range(7):
                raise RuleError(f"{where} must be a day of the week, 0 (Sunday) to 6")
            out.append(value)
        elif op in _DATE_OPS and op not in ("$after", "$before"):
            out.append(_whole(value, where, "a number of days"))
        elif op in ("$after", "$before"):
            out.append(_moment(value, where))
        elif op in ("$count", "$count_more", "$count_less"):
            out.append(_whole(value, where, "a count"))
        elif spec.kind == "number" or spec.kind == "history":
            out.append(_number(value, where))
        elif op in _TEXT_OPS:
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise RuleError(f"{where} must be text")
            out.append(value)
        else:
            if not (value is None or isinstance(value, (str, int, float, bool))):
                raise RuleError(f"{where} must be text, a number or a boolean")
            if isinstance(value, str) and len(value) > MAX_TEXT:
                raise RuleError(f"{where} is longer than {MAX_TEXT} characters")
            out.append(value)
    return tuple(out)


def _number(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RuleError(f"{where} must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise RuleError(f"{where} must be a number") from None
    if not number.is_finite():
        raise RuleError(f"{where} must be a finite number")
    return number


def _whole(value: Any, where: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000:
        raise RuleError(f"{where} must be {what}: a whole number from 0 to 100000")
    return value


def _read_moment(value: Any) -> datetime | None:
    """An ISO 8601 date or date-time, with its own offset (UTC when it names none)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _moment(value: Any, where: str) -> datetime:
    """A moment a rule names, in UTC: a purchase-history window is bound to the database as
    UTC, and a moment whose offset carries it before year 1 or past 9999 has no UTC form."""
    moment = _read_moment(value)
    if moment is None:
        raise RuleError(f"{where} must be an ISO 8601 date or date-time")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise RuleError(f"{where} is out of range once converted to UTC") from None


def _span(value: Any, where: str) -> tuple[datetime, datetime]:
    """``"start;end"``, two ISO 8601 moments (Voucherify's $timeframe_absolute value)."""
    parts = value.split(";") if isinstance(value, str) else []
    if len(parts) != 2:
        raise RuleError(f'{where} must be "start;end", two ISO 8601 date-times')
    start, end = (_moment(part.strip(), where) for part in parts)
    if end <= start:
        raise RuleError(f"{where} ends before it starts")
    return start, end


@dataclass(frozen=True)
class Recurring:
    """``"start;interval;duration"``: from ``start``, every ``interval`` for ``duration``
    (Voucherify's $timeframe, e.g. "2024-11-12T14:59:23.019Z;P1D;PT1H")."""

    start: datetime
    interval: timedelta
    duration: timedelta

    def holds(self, moment: datetime) -> bool:
        if moment < self.start:
            return False
        return (moment - self.start) % self.interval < self.duration


def _recurring(value: Any, where: str) -> Recurring:
    parts = value.split(";") if isinstance(value, str) else []
    if len(parts) != 3:
        raise RuleError(f'{where} must be "start;interval;duration", e.g. "{_RECURRING_EXAMPLE}"')
    start = _moment(parts[0].strip(), where)
    interval, duration = (fixed_duration(part.strip()) for part in parts[1:])
    if interval is None or duration is None or not interval or not duration:
        raise RuleError(
            f"{where}: interval and duration must be ISO 8601 durations of weeks, days, hours, "
            "minutes or seconds, more than zero"
        )
    return Recurring(start, interval, duration)


_RECURRING_EXAMPLE = "2024-11-12T14:59:23.019Z;P1D;PT1H"


@dataclass(frozen=True)
class DailyHours:
    """``"start;end;days"``: between two times of day (``end`` not included; an ``end``
    before ``start`` runs past midnight) on the days listed, 0 being Sunday (Voucherify's
    $timeframe_daily_hours, e.g. "18:00;20:01;2,3"). The time and day are read where the
    value was written, as $dow reads them."""

    start: time
    end: time
    days: frozenset[int]

    def holds(self, moment: datetime) -> bool:
        at = moment.timetz().replace(tzinfo=None)
        weekday = moment.isoweekday() % 7
        if self.start <= self.end:
            return self.start <= at < self.end and weekday in self.days
        if at >= self.start:
            return weekday in self.days
        # After midnight: the window opened the day before.
        return at < self.end and (weekday - 1) % 7 in self.days


def _daily_hours(value: Any, where: str) -> DailyHours:
    parts = value.split(";") if isinstance(value, str) else []
    if len(parts) not in (2, 3):
        raise RuleError(f'{where} must be "HH:MM;HH:MM;days", e.g. "18:00;20:01;2,3"')
    try:
        start, end = (time.fromisoformat(part.strip()) for part in parts[:2])
    except ValueError:
        raise RuleError(f"{where}: times must be HH:MM") from None
    if start.tzinfo is not None or end.tzinfo is not None or start == end:
        raise RuleError(f"{where}: two different times of day, without an offset")
    days: set[int] = set(range(7))
    if len(parts) == 3 and parts[2].strip():
        try:
            days = {int(day) for day in parts[2].split(",")}
        except ValueError:
            raise RuleError(f"{where}: days must be numbers 0 (Sunday) to 6") from None
        if not days <= set(range(7)):
            raise RuleError(f"{where}: days must be numbers 0 (Sunday) to 6")
    return DailyHours(start, end, frozenset(days))


@dataclass(frozen=True)
class ItemRef:
    """A product or SKU a rule names: by Tally id or by source_id."""

    object: str  # product | sku
    id: str | None
    source_id: str | None


def _item_ref(value: Any, where: str) -> ItemRef:
    if not isinstance(value, Mapping) or value.get("object") not in ("product", "sku"):
        raise RuleError(f'{where} must be {{"object": "product" or "sku", "id" or "source_id"}}')
    ref_id, source_id = value.get("id"), value.get("source_id")
    if not any(isinstance(v, str) and v for v in (ref_id, source_id)):
        raise RuleError(f"{where} needs an id or a source_id")
    return ItemRef(
        value["object"],
        ref_id if isinstance(ref_id, str) and ref_id else None,
        source_id if isinstance(source_id, str) and source_id else None,
    )


# ---------------------------------------------------------------- logic expressions

_TOKEN = re.compile(r"\s*(?:([0-9]+)|(\()|(\))|(and|or|not)\b)", re.IGNORECASE)


def _parse_logic(text: str, numbers: set[str], path: str) -> Any:
    if len(text) > MAX_TEXT:
        raise RuleError(f"{path} is longer than {MAX_TEXT} characters")
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise RuleError(f"{path}: cannot read {text[pos:].strip()[:20]!r}")
        tokens.append(match.group(match.lastindex or 0).lower())
        pos = match.end()
    at = 0
    nesting = 0

    def expr() -> Any:
        nonlocal at
        parts = [term()]
        while at < len(tokens) and tokens[at] == "or":
            at += 1
            parts.append(term())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def term() -> Any:
        nonlocal at
        parts = [factor()]
        while at < len(tokens) and tokens[at] == "and":
            at += 1
            parts.append(factor())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def factor() -> Any:
        nonlocal at, nesting
        if at >= len(tokens):
            raise RuleError(f"{path} ends where a rule number or ( was expected")
        token = tokens[at]
        at += 1
        if token in ("not", "("):
            nesting += 1
            if nesting > MAX_LOGIC_DEPTH:
                raise RuleError(f"{path} nests ( and not more than {MAX_LOGIC_DEPTH} levels deep")
            try:
                return ("not", [factor()]) if token == "not" else parenthesised()
            finally:
                nesting -= 1
        if token.isdigit():
            if token not in numbers:
                raise RuleError(f"{path} refers to rule {token}, which is not defined")
            return token
        raise RuleError(f"{path}: {token!r} where a rule number or ( was expected")

    def parenthesised() -> Any:
        nonlocal at
        inner = expr()
        if at >= len(tokens) or tokens[at] != ")":
            raise RuleError(f"{path} has an unbalanced parenthesis")
        at += 1
        return inner

    tree = expr()
    if at != len(tokens):
        raise RuleError(f"{path}: unexpected {tokens[at]!r}")
    return tree


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str | None = None  # the custom error.message of a rule that failed


def evaluate(document: Document, facts: Facts) -> Verdict:
    """Whether ``facts`` satisfy ``document``; when not, the error message of the first
    failing rule (by number) that has one."""
    results = {number: _holds(entry, facts) for number, entry in document.entries.items()}
    if _logic(document.logic, results):
        return Verdict(True)
    failed = sorted((n for n, ok in results.items() if not ok), key=int)
    message = next(
        (document.entries[n].message for n in failed if document.entries[n].message), None
    )
    return Verdict(False, message)


def _logic(tree: Any, results: Mapping[str, bool]) -> bool:
    if isinstance(tree, str):
        return results[tree]
    op, parts = tree
    if op == "and":
        return all(_logic(p, results) for p in parts)
    if op == "or":
        return any(_logic(p, results) for p in parts)
    return not _logic(parts[0], results)


def _holds(entry: Entry, facts: Facts) -> bool:
    name = entry.name
    if name == "order.amount":
        return _all_conditions(entry, facts.amount, facts)
    if name == "order.total_amount":
        return _all_conditions(entry, facts.total_amount, facts)
    if name == "order.initial_amount":
        return _all_conditions(entry, facts.initial_amount, facts)
    if name == "order.items.count":
        return _all_conditions(entry, sum(line.quantity for line in facts.lines), facts)
    if name == "order.items.price_any":
        return any(_all_conditions(entry, line.price, facts) for line in facts.lines)
    if name == "order.items.price_each":
        return bool(facts.lines) and all(
            _all_conditions(entry, line.price, facts) for line in facts.lines
        )
    if name == "order.metadata":
        return _all_conditions(entry, facts.metadata.get(entry.prop or ""), facts)
    if name == "customer.metadata":
        if facts.customer_metadata is None:
            return False
        return _all_conditions(entry, facts.customer_metadata.get(entry.prop or ""), facts)
    if name in ("order.items.metadata_any", "order.items.metadata_each"):
        checks = [
            _all_conditions(entry, line.metadata.get(entry.prop or ""), facts)
            for line in facts.lines
        ]
        return any(checks) if name.endswith("_any") else bool(checks) and all(checks)
    if name in ("order.items.any", "order.items.every", "order.items.none"):
        return _items(entry, facts)
    if name in ("x.customer.orders.count", "x.customer.orders.amount"):
        if facts.history is None:
            return False  # no customer: no purchase history to satisfy the rule
        seen = facts.history(window_of(entry.nested, facts.now))
        value = seen.count if name.endswith(".count") else seen.amount
        return _all_conditions(entry, value, facts)
    raise AssertionError(f"unchecked rule name {name}")  # parse() admits no other


def window_of(nested: Document, now: datetime) -> Window:
    """The purchase-history window a nested ``x.customer.orders.created_at`` rule sets
    (all of the customer's orders without one)."""
    after: datetime | None = None
    before: datetime | None = None
    for entry in nested.entries.values():
        for op, values in entry.conditions:
            if op == "$after":
                after = max(after, values[0]) if after else values[0]
            elif op == "$before":
                before = min(before, values[0]) if before else values[0]
            elif op == "$less_than_ago":
                start = now - timedelta(days=values[0])
                after = max(after, start) if after else start
            elif op == "$more_than_ago":
                end = now - timedelta(days=values[0])
                before = min(before, end) if before else end
    return Window(after, before)


def history_windows(document: Document, now: datetime) -> list[Window]:
    """Every purchase-history window ``document`` asks about: the caller reads them before
    evaluating."""
    out: list[Window] = []
    for entry in document.entries.values():
        if entry.name.startswith("x.customer.orders."):
            out.append(window_of(entry.nested, now))
    return out


def _matches(line: LineFacts, ref: ItemRef) -> bool:
    if ref.object == "product":
        return (ref.id is not None and ref.id == line.product_id) or (
            ref.source_id is not None and ref.source_id == line.product_source_id
        )
    return (ref.id is not None and ref.id == line.sku_id) or (
        ref.source_id is not None and ref.source_id == line.sku_source_id
    )


def _items(entry: Entry, facts: Facts) -> bool:
    refs: list[ItemRef] = [ref for _op, values in entry.conditions for ref in values]
    matching = [line for line in facts.lines if any(_matches(line, ref) for ref in refs)]
    if entry.name == "order.items.none":
        return not matching
    if entry.name == "order.items.every":
        if not all(any(_matches(line, ref) for line in facts.lines) for ref in refs):
            return False
    elif not matching:
        return False
    if entry.nested.empty:
        return True
    aggregates = {
        "order.items.aggregated_quantity": sum(line.quantity for line in matching),
        "order.items.aggregated_amount": sum(line.amount for line in matching),
    }

    def on_line(line: LineFacts) -> bool:
        results = {}
        for number, sub in entry.nested.entries.items():
            if sub.name in aggregates:
                value: Any = aggregates[sub.name]
            elif sub.name == "order.items.quantity":
                value = line.quantity
            elif sub.name == "order.items.price":
                value = line.price
            else:  # order.items.metadata
                value = line.metadata.get(sub.prop or "")
            results[number] = _all_conditions(sub, value, facts)
        return _logic(entry.nested.logic, results)

    checks = [on_line(line) for line in matching]
    return all(checks) if entry.name == "order.items.every" else any(checks)


def _all_conditions(entry: Entry, value: Any, facts: Facts) -> bool:
    return all(_condition(op, values, value, facts.now) for op, values in entry.conditions)


def _as_number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        return number if number.is_finite() else None
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _equal(value: Any, expected: Any) -> bool:
    if isinstance(expected, Decimal) or (
        isinstance(expected, (int, float)) and not isinstance(expected, bool)
    ):
        number = _as_number(value)
        return number is not None and number == _as_number(expected)
    if isinstance(value, list):
        return expected in value
    return bool(value == expected)


def _as_moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    # Kept with its own offset: comparing moments never overflows, and $dow and $is_days_ago
    # read the day where the value was written.
    return _read_moment(value)


def _condition(op: str, values: tuple[Any, ...], value: Any, now: datetime) -> bool:
    if op == "$is_unknown":
        return value is None
    if op in ("$is", "$in"):
        return any(_equal(value, expected) for expected in values)
    if op in ("$is_not", "$not_in"):
        return value is not None and not any(_equal(value, expected) for expected in values)
    if op in ("$less_than", "$less_than_or_equal", "$more_than", "$more_than_or_equal"):
        number, bound = _as_number(value), _as_number(values[0])
        if number is None or bound is None:
            return False
        return {
            "$less_than": number < bound,
            "$less_than_or_equal": number <= bound,
            "$more_than": number > bound,
            "$more_than_or_equal": number >= bound,
        }[op]
    if op in _TEXT_OPS:
        if not isinstance(value, str):
            return False
        needle: str = values[0]
        if op == "$starts_with":
            return value.startswith(needle)
        if op == "$ends_with":
            return value.endswith(needle)
        return needle in value
    if op in ("$count", "$count_more", "$count_less"):
        if not isinstance(value, list):
            return False
        size: int = values[0]
        return {
            "$count": len(value) == size,
            "$count_more": len(value) > size,
            "$count_less": len(value) < size,
        }[op]
    if op == "$not_differ":
        return isinstance(value, list) and {_key(v) for v in value} == {_key(v) for v in values}
    if op == "$not_intersect":
        return isinstance(value, list) and not (
            {_key(v) for v in value} & {_key(v) for v in values}
        )
    return _date_condition(op, values, value, now)


def _key(value: Any) -> Any:
    """What ``value`` is compared by in the set conditions: numbers by value, so 2 and "2"
    are one. An object or a list (free-form metadata may hold them) cannot go in a set and
    can never equal a condition value, which is always text, a number or a boolean: it gets
    a key of its own that matches nothing."""
    number = _as_number(value) if not isinstance(value, str) else None
    key = number if number is not None else value
    try:
        hash(key)
    except TypeError:
        return object()
    return key


def _date_condition(op: str, values: tuple[Any, ...], value: Any, now: datetime) -> bool:
    moment = _as_moment(value)
    if moment is None:
        return False
    if op == "$after":
        return bool(moment > values[0])
    if op == "$before":
        return bool(moment < values[0])
    if op == "$timeframe_absolute":
        return any(start <= moment < end for start, end in values)
    if op in ("$timeframe", "$timeframe_daily_hours"):
        return any(window.holds(moment) for window in values)
    if op == "$dow":
        return (moment.isoweekday() % 7) in values  # 0 is Sunday
    days = values[0]
    today: date = now.date()
    if op == "$more_than_ago":
        return bool(moment < now - timedelta(days=days))
    if op == "$less_than_ago":
        return now - timedelta(days=days) <= moment <= now
    if op == "$is_days_ago":
        return moment.date() == today - timedelta(days=days)
    if op == "$more_than_future":
        return moment > now + timedelta(days=days)
    if op == "$less_than_future":
        return now <= moment <= now + timedelta(days=days)
    if op == "$is_days_in_future":
        return moment.date() == today + timedelta(days=days)
    raise AssertionError(f"unchecked condition {op}")
