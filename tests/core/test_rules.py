"""Validation rule documents (tally.core.rules): every rule name and condition, both
outcomes; malformed documents refused with a message that says where; fuzzed documents and
facts never crash the parser or the evaluator."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tally.core.rules import (
    Facts,
    History,
    LineFacts,
    RuleError,
    Window,
    evaluate,
    history_windows,
    parse,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

MUG = LineFacts(
    quantity=2,
    price=1450,
    amount=2900,
    product_id="prod_mug",
    product_source_id="mug",
    metadata={"color": "white", "tags": ["kitchen", "gift"]},
)
CAP = LineFacts(
    quantity=1,
    price=1990,
    amount=1990,
    product_id="prod_cap",
    product_source_id="cap",
    sku_id="sku_cap_black",
    sku_source_id="cap-black",
    metadata={"color": "black"},
)


def _seen(window: Window) -> History:
    # Three orders of 1,000 in the last 10 days, two more of 5,000 a year ago.
    count, amount = 0, 0
    for days, total in ((2, 1000), (5, 1000), (9, 1000), (365, 5000), (400, 5000)):
        created = NOW - timedelta(days=days)
        if (window.after is None or created > window.after) and (
            window.before is None or created < window.before
        ):
            count, amount = count + 1, amount + total
    return History(count, amount)


FACTS = Facts(
    amount=4890,
    total_amount=4390,
    initial_amount=4890,
    lines=(MUG, CAP),
    metadata={
        "location": "Santorini",
        "channel": "web",
        "vip": True,
        "score": "7.5",
        "opened": "2026-11-20T10:00:00Z",
        "tags": ["a", "b"],
    },
    now=NOW,
    customer_metadata={"tier": "gold", "since": "2020-01-01"},
    history=_seen,
)


def _one(name: str, conditions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"1": {"name": name, "conditions": conditions, "rules": {}, **extra}, "logic": "1"}


# (rule name, conditions, extra fields, expected on FACTS)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("order.amount", {"$more_than_or_equal": [4890]}, {}, True),
    ("order.amount", {"$more_than": [4890]}, {}, False),
    ("order.amount", {"$less_than": [5000]}, {}, True),
    ("order.amount", {"$less_than_or_equal": [4889]}, {}, False),
    ("order.amount", {"$is": [4890]}, {}, True),
    ("order.amount", {"$is_not": [4890]}, {}, False),
    ("order.amount", {"$in": [1, 4890]}, {}, True),
    ("order.amount", {"$not_in": [1, 4890]}, {}, False),
    ("order.total_amount", {"$less_than": [4400]}, {}, True),
    ("order.total_amount", {"$more_than": [4400]}, {}, False),
    ("order.initial_amount", {"$is": [4890]}, {}, True),
    ("order.initial_amount", {"$is": [4390]}, {}, False),
    ("order.items.count", {"$more_than_or_equal": [3]}, {}, True),
    ("order.items.count", {"$more_than": [3]}, {}, False),
    ("order.items.price_any", {"$more_than": [1900]}, {}, True),
    ("order.items.price_any", {"$more_than": [2000]}, {}, False),
    ("order.items.price_each", {"$more_than": [1000]}, {}, True),
    ("order.items.price_each", {"$more_than": [1500]}, {}, False),
    ("order.metadata", {"$is": ["Santorini"]}, {"property": "location"}, True),
    ("order.metadata", {"$is": ["Mykonos"]}, {"property": "location"}, False),
    ("order.metadata", {"$is_not": ["Mykonos"]}, {"property": "location"}, True),
    ("order.metadata", {"$starts_with": ["Sant"]}, {"property": "location"}, True),
    ("order.metadata", {"$ends_with": ["ni"]}, {"property": "location"}, True),
    ("order.metadata", {"$contains": ["tor"]}, {"property": "location"}, True),
    ("order.metadata", {"$contains": ["xyz"]}, {"property": "location"}, False),
    ("order.metadata", {"$is": [True]}, {"property": "vip"}, True),
    ("order.metadata", {"$more_than": [7]}, {"property": "score"}, True),
    ("order.metadata", {"$less_than": [7]}, {"property": "score"}, False),
    ("order.metadata", {"$is_unknown": []}, {"property": "missing"}, True),
    ("order.metadata", {"$is_unknown": []}, {"property": "location"}, False),
    ("order.metadata", {"$count": [2]}, {"property": "tags"}, True),
    ("order.metadata", {"$count_more": [2]}, {"property": "tags"}, False),
    ("order.metadata", {"$count_less": [3]}, {"property": "tags"}, True),
    ("order.metadata", {"$not_differ": ["b", "a"]}, {"property": "tags"}, True),
    ("order.metadata", {"$not_differ": ["a"]}, {"property": "tags"}, False),
    ("order.metadata", {"$not_intersect": ["c"]}, {"property": "tags"}, True),
    ("order.metadata", {"$not_intersect": ["a"]}, {"property": "tags"}, False),
    ("order.metadata", {"$in": ["a"]}, {"property": "tags"}, True),
    ("order.metadata", {"$after": ["2026-11-01"]}, {"property": "opened"}, True),
    ("order.metadata", {"$before": ["2026-11-01"]}, {"property": "opened"}, False),
    ("order.metadata", {"$less_than_ago": [5]}, {"property": "opened"}, True),
    ("order.metadata", {"$more_than_ago": [5]}, {"property": "opened"}, False),
    ("order.metadata", {"$is_days_ago": [3]}, {"property": "opened"}, True),
    ("order.metadata", {"$more_than_future": [1]}, {"property": "opened"}, False),
    ("order.metadata", {"$less_than_future": [1]}, {"property": "opened"}, False),
    ("order.metadata", {"$is_days_in_future": [0]}, {"property": "opened"}, False),
    (
        "order.metadata",
        {"$timeframe_absolute": ["2026-11-20T00:00:00Z;2026-11-21T00:00:00Z"]},
        {"property": "opened"},
        True,
    ),
    (
        "order.metadata",
        {"$timeframe_absolute": ["2026-11-21T00:00:00Z;2026-11-22T00:00:00Z"]},
        {"property": "opened"},
        False,
    ),
    # Every day from 1 November, 9:00 to 11:00: opened (20 November, 10:00) falls in one.
    (
        "order.metadata",
        {"$timeframe": ["2026-11-01T09:00:00Z;P1D;PT2H"]},
        {"property": "opened"},
        True,
    ),
    (
        "order.metadata",
        {"$timeframe": ["2026-11-01T11:00:00Z;P1D;PT2H"]},
        {"property": "opened"},
        False,
    ),
    (
        "order.metadata",
        {"$timeframe": ["2026-11-21T09:00:00Z;P1D;PT2H"]},
        {"property": "opened"},
        False,
    ),
    (
        "order.metadata",
        {"$timeframe": ["2026-11-06T10:00:00Z;P1W;PT1S"]},
        {"property": "opened"},
        True,
    ),
    ("order.metadata", {"$timeframe_daily_hours": ["09:00;10:01;5"]}, {"property": "opened"}, True),
    (
        "order.metadata",
        {"$timeframe_daily_hours": ["09:00;10:00;5"]},
        {"property": "opened"},
        False,
    ),
    (
        "order.metadata",
        {"$timeframe_daily_hours": ["09:00;12:00;1,2"]},
        {"property": "opened"},
        False,
    ),
    # From Thursday 22:00 past midnight to 11:00: Friday 10:00 is in Thursday's window.
    ("order.metadata", {"$timeframe_daily_hours": ["22:00;11:00;4"]}, {"property": "opened"}, True),
    (
        "order.metadata",
        {"$timeframe_daily_hours": ["22:00;11:00;5"]},
        {"property": "opened"},
        False,
    ),
    ("order.metadata", {"$timeframe_daily_hours": ["09:30;10:30"]}, {"property": "opened"}, True),
    ("order.metadata", {"$dow": [5]}, {"property": "opened"}, True),  # a Friday
    ("order.metadata", {"$dow": [0, 6]}, {"property": "opened"}, False),
    ("order.items.metadata_any", {"$is": ["black"]}, {"property": "color"}, True),
    ("order.items.metadata_each", {"$is": ["black"]}, {"property": "color"}, False),
    ("customer.metadata", {"$is": ["gold"]}, {"property": "tier"}, True),
    ("customer.metadata", {"$more_than_ago": [365]}, {"property": "since"}, True),
    ("customer.metadata", {"$is": ["silver"]}, {"property": "tier"}, False),
    ("order.items.any", {"$is": [{"object": "product", "source_id": "mug"}]}, {}, True),
    ("order.items.any", {"$is": [{"object": "product", "id": "prod_hat"}]}, {}, False),
    ("order.items.any", {"$in": [{"object": "sku", "source_id": "cap-black"}]}, {}, True),
    ("order.items.none", {"$is": [{"object": "product", "id": "prod_hat"}]}, {}, True),
    ("order.items.none", {"$is": [{"object": "product", "id": "prod_cap"}]}, {}, False),
    (
        "order.items.every",
        {
            "$is": [
                {"object": "product", "id": "prod_cap"},
                {"object": "product", "source_id": "mug"},
            ]
        },
        {},
        True,
    ),
    (
        "order.items.every",
        {"$is": [{"object": "product", "id": "prod_cap"}, {"object": "product", "id": "prod_hat"}]},
        {},
        False,
    ),
    ("x.customer.orders.count", {"$more_than_or_equal": [5]}, {}, True),
    ("x.customer.orders.count", {"$more_than": [5]}, {}, False),
    ("x.customer.orders.amount", {"$is": [13000]}, {}, True),
]


@pytest.mark.parametrize(("name", "conditions", "extra", "expected"), CASES)
def test_every_rule_name_and_condition(
    name: str, conditions: dict[str, Any], extra: dict[str, Any], expected: bool
) -> None:
    assert evaluate(parse(_one(name, conditions, **extra)), FACTS).passed is expected


def _items_rule(sub: dict[str, Any], ref: dict[str, Any] | None = None) -> dict[str, Any]:
    return _one(
        "order.items.any",
        {"$is": [ref or {"object": "product", "source_id": "mug"}]},
        rules={"1": {**sub, "rules": {}}, "logic": "1"},
    )


@pytest.mark.parametrize(
    ("sub", "expected"),
    [
        ({"name": "order.items.quantity", "conditions": {"$more_than_or_equal": [2]}}, True),
        ({"name": "order.items.quantity", "conditions": {"$more_than": [2]}}, False),
        ({"name": "order.items.aggregated_quantity", "conditions": {"$is": [2]}}, True),
        ({"name": "order.items.price", "conditions": {"$less_than": [1500]}}, True),
        ({"name": "order.items.price", "conditions": {"$less_than": [1000]}}, False),
        ({"name": "order.items.aggregated_amount", "conditions": {"$is": [2900]}}, True),
        (
            {"name": "order.items.metadata", "property": "color", "conditions": {"$is": ["white"]}},
            True,
        ),
        (
            {"name": "order.items.metadata", "property": "color", "conditions": {"$is": ["red"]}},
            False,
        ),
    ],
)
def test_item_sub_rules_read_the_matching_lines(sub: dict[str, Any], expected: bool) -> None:
    assert evaluate(parse(_items_rule(sub)), FACTS).passed is expected


def test_purchase_history_counts_only_its_window() -> None:
    def history(days: int, op: str = "$less_than_ago") -> dict[str, Any]:
        return _one(
            "x.customer.orders.count",
            {"$more_than_or_equal": [3]},
            rules={
                "1": {"name": "x.customer.orders.created_at", "conditions": {op: [days]}},
                "logic": "1",
            },
        )

    assert evaluate(parse(history(10)), FACTS).passed  # 3 orders in the last 10 days
    assert not evaluate(parse(history(6)), FACTS).passed  # only 2 in the last 6
    assert not evaluate(parse(history(30, "$more_than_ago")), FACTS).passed  # 2 older than 30
    windows = history_windows(parse(history(10)), NOW)
    assert windows == [Window(after=NOW - timedelta(days=10), before=None)]


def test_purchase_history_without_a_customer_fails() -> None:
    facts = Facts(amount=1, total_amount=1, initial_amount=1, lines=(), metadata={}, now=NOW)
    document = parse(_one("x.customer.orders.count", {"$less_than": [3]}))
    assert not evaluate(document, facts).passed
    assert not evaluate(
        parse(_one("customer.metadata", {"$is_unknown": []}, property="x")), facts
    ).passed


@pytest.mark.parametrize(
    ("logic", "expected"),
    [
        ("1 and 2", False),
        ("1 or 2", True),
        ("(1 and 2) or 3", True),
        ("1 AND (2 OR 3)", True),
        ("not 2", True),
        ("", False),  # empty: every rule
    ],
)
def test_logic_combines_rules(logic: str, expected: bool) -> None:
    document = {
        "1": {"name": "order.amount", "conditions": {"$more_than": [1000]}, "rules": {}},
        "2": {
            "name": "order.amount",
            "conditions": {"$more_than": [99999]},
            "rules": {},
            "error": {"message": "Spend more"},
        },
        "3": {"name": "order.items.count", "conditions": {"$is": [3]}, "rules": {}},
        "logic": logic,
    }
    verdict = evaluate(parse(document), FACTS)
    assert verdict.passed is expected
    if not expected:
        assert verdict.message == "Spend more"


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (_one("order.nope", {"$is": [1]}), "rules.1.name 'order.nope'"),
        (_one("order.amount", {"$like": [1]}), "'$like' is not a condition of order.amount"),
        (_one("order.amount", {"$is": ["ten"]}), "must be a number"),
        (_one("order.amount", {"$more_than": [1, 2]}), "exactly one value"),
        (_one("order.amount", {"$is": []}), "list of 1 to"),
        (_one("order.metadata", {"$is": ["x"]}), "property is required"),
        (_one("order.amount", {"$is": [1]}, property="x"), "only for metadata"),
        (_one("order.amount", {}), "at least one condition"),
        (_one("order.metadata", {"$after": ["yesterday"]}, property="d"), "ISO 8601"),
        (
            _one("order.metadata", {"$timeframe_absolute": ["2026-01-01"]}, property="d"),
            "start;end",
        ),
        (_one("order.metadata", {"$dow": [7]}, property="d"), "day of the week"),
        (_one("order.metadata", {"$timeframe": ["x"]}, property="d"), "start;interval;duration"),
        (
            _one("order.metadata", {"$timeframe": ["2026-01-01T00:00:00Z;P1M;PT1H"]}, property="d"),
            "ISO 8601 durations",
        ),
        (
            _one("order.metadata", {"$timeframe": ["2026-01-01T00:00:00Z;P1D;PT0S"]}, property="d"),
            "more than zero",
        ),
        (
            _one("order.metadata", {"$timeframe_daily_hours": ["25:00;10:00"]}, property="d"),
            "HH:MM",
        ),
        (
            _one(
                "order.metadata",
                {"$timeframe": ["2026-01-01T00:00:00Z;P" + "9" * 5000 + "D;PT1H"]},
                property="d",
            ),
            "ISO 8601 durations",
        ),
        (
            _one(
                "order.metadata",
                {"$timeframe": ["2026-01-01T00:00:00Z;P\u0661D;PT1H"]},
                property="d",
            ),
            "ISO 8601 durations",
        ),
        (
            _one("order.metadata", {"$timeframe_daily_hours": ["09:00;10:00;7"]}, property="d"),
            "0 (Sunday) to 6",
        ),
        (
            _one("order.metadata", {"$timeframe_daily_hours": ["09:00;09:00"]}, property="d"),
            "two different",
        ),
        (_one("order.items.any", {"$from": ["pc_1"]}), "product collection"),
        (_one("order.items.any", {"$is": ["mug"]}), '"object": "product"'),
        (
            _one("order.amount", {"$is": [1]}, rules={"1": {"name": "order.amount"}}),
            "takes no nested rules",
        ),
        (
            _items_rule({"name": "order.amount", "conditions": {"$is": [1]}}),
            "not a rule Tally evaluates under order.items.any",
        ),
        ({"1": {"name": "order.amount", "conditions": {"$is": [1]}}, "logic": "1 and 2"}, "rule 2"),
        ({"1": {"name": "order.amount", "conditions": {"$is": [1]}}, "logic": "(1"}, "unbalanced"),
        (
            {"1": {"name": "order.amount", "conditions": {"$is": [1]}}, "logic": "1 xor 1"},
            "cannot read",
        ),
        ({"one": {"name": "order.amount"}}, "keys are rule numbers"),
        ({"1": {"name": "order.amount", "conditions": {"$is": [1]}}, "logic": 1}, "logic must be"),
    ],
)
def test_malformed_documents_are_refused_saying_where(document: Any, says: str) -> None:
    with pytest.raises(RuleError) as raised:
        parse(document)
    assert says in str(raised.value)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_names = st.sampled_from(
    [
        "order.amount",
        "order.metadata",
        "order.items.any",
        "order.items.quantity",
        "x.customer.orders.count",
        "x.customer.orders.created_at",
        "customer.metadata",
        "order.items.every",
        "bogus",
    ]
)
_ops = st.sampled_from(
    [
        "$is",
        "$in",
        "$is_not",
        "$more_than",
        "$after",
        "$less_than_ago",
        "$count",
        "$contains",
        "$timeframe",
        "$timeframe_daily_hours",
        "$timeframe_absolute",
        "$dow",
        "$from",
        "$is_unknown",
        "$not_differ",
        "$bogus",
    ]
)
_edge_moments = st.sampled_from(
    ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "2026-11-20T23:30:00-02:00"]
)
# Values that read as time windows, and near misses, so the fuzz reaches past the parse.
_frames = st.sampled_from(
    [
        "2026-11-01T09:00:00Z;P1D;PT2H",
        "2026-11-01T09:00:00+14:00;PT1S;P1W",
        "0001-01-01T00:00:00Z;P1D;PT1H",
        "9999-12-31T23:59:59Z;P36600D;PT1H",
        "2026-11-01;P1DT;PT1H",
        "22:00;11:00;4",
        "09:00;10:00",
        "09:00:00.5;23:59:59.999999;0,6",
        "2026-11-01T00:00:00Z;2026-11-02T00:00:00Z",
    ]
)


@st.composite
def _documents(draw: st.DrawFn, depth: int = 0) -> Any:
    entries: dict[str, Any] = {}
    for number in range(1, draw(st.integers(0, 3)) + 1):
        entry: dict[str, Any] = {
            "name": draw(_names),
            "conditions": draw(
                st.dictionaries(_ops, st.lists(_json | _frames, max_size=3) | _json, max_size=2)
            ),
        }
        if draw(st.booleans()):
            entry["property"] = draw(st.text(max_size=5) | st.integers())
        if depth < 2 and draw(st.booleans()):
            entry["rules"] = draw(_documents(depth + 1))
        entries[str(number)] = entry
    if draw(st.booleans()):
        entries["logic"] = draw(st.text(alphabet="123 andor()not", max_size=15) | _json)
    return draw(st.just(entries) | _json)


_lines = st.builds(
    LineFacts,
    quantity=st.integers(1, 5),
    price=st.none() | st.integers(0, 10_000),
    amount=st.integers(0, 50_000),
    product_id=st.sampled_from([None, "prod_mug", "prod_cap"]),
    product_source_id=st.sampled_from([None, "mug"]),
    metadata=st.dictionaries(st.text(max_size=3), _json | _edge_moments, max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(
    document=_documents(),
    lines=st.lists(_lines, max_size=4),
    metadata=st.dictionaries(st.text(max_size=3), _json | _edge_moments, max_size=3),
)
def test_fuzzed_documents_never_crash_parse_or_evaluate(
    document: Any, lines: list[LineFacts], metadata: dict[str, Any]
) -> None:
    try:
        parsed = parse(document)
    except RuleError:
        return
    facts = Facts(
        amount=100,
        total_amount=50,
        initial_amount=100,
        lines=tuple(lines),
        metadata=metadata,
        now=NOW,
        customer_metadata=metadata,
        history=_seen,
    )
    verdict = evaluate(parsed, facts)
    assert verdict.passed in (True, False)


@pytest.mark.parametrize(
    ("op", "expected"),
    [("$not_differ", False), ("$not_intersect", True), ("$in", False), ("$is_not", True)],
)
def test_set_conditions_on_lists_of_objects_never_raise(op: str, expected: bool) -> None:
    # Metadata is free-form JSON: a list may hold objects and lists, which no condition value
    # (text, numbers, booleans) ever equals.
    facts = Facts(
        amount=1,
        total_amount=1,
        initial_amount=1,
        lines=(),
        metadata={"tags": [{"a": 1}, ["b"], "c"]},
        now=NOW,
    )
    document = parse(_one("order.metadata", {op: ["a", "b"]}, property="tags"))
    assert evaluate(document, facts).passed is expected


@pytest.mark.parametrize(
    "document",
    [
        _one("order.metadata", {"$after": ["0001-01-01T00:00:00+05:00"]}, property="d"),
        _one("order.metadata", {"$before": ["9999-12-31T23:59:59-05:00"]}, property="d"),
        _one(
            "order.metadata",
            {"$timeframe_absolute": ["0001-01-01T00:00:00+01:00;2026-01-01T00:00:00Z"]},
            property="d",
        ),
        _one(
            "x.customer.orders.count",
            {"$more_than": [0]},
            rules={
                "1": {
                    "name": "x.customer.orders.created_at",
                    "conditions": {"$after": ["0001-01-01T00:00:00+05:00"]},
                },
                "logic": "1",
            },
        ),
    ],
)
def test_moments_without_a_utc_form_are_refused(document: dict[str, Any]) -> None:
    # Moments are kept in UTC (a purchase-history window is bound to the database as UTC):
    # one whose offset carries it past year 1 or 9999 has none.
    with pytest.raises(RuleError) as raised:
        parse(document)
    assert "out of range" in str(raised.value)


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("$before", "0001-01-01T00:00:00+05:00", True),
        ("$after", "9999-12-31T23:59:59-05:00", True),
        ("$dow", "0001-01-01T00:00:00+05:00", False),
        ("$is_days_ago", "9999-12-31T23:59:59-05:00", False),
    ],
)
def test_extreme_moments_in_metadata_are_evaluated_without_raising(
    op: str, value: str, expected: bool
) -> None:
    values: list[Any] = [0] if op in ("$dow", "$is_days_ago") else ["2026-01-01T00:00:00Z"]
    facts = Facts(
        amount=1, total_amount=1, initial_amount=1, lines=(), metadata={"d": value}, now=NOW
    )
    document = parse(_one("order.metadata", {op: values}, property="d"))
    assert evaluate(document, facts).passed is expected


@pytest.mark.parametrize(
    "logic",
    ["(" * 400 + "1" + ")" * 400, "not " * 200 + "1", "(not " * 17 + "1" + ")" * 17],
    ids=["parentheses", "not", "both"],
)
def test_logic_nested_too_deep_is_refused(logic: str) -> None:
    document = {"1": {"name": "order.amount", "conditions": {"$is": [1]}}, "logic": logic}
    with pytest.raises(RuleError) as raised:
        parse(document)
    assert "rules.logic nests ( and not more than 32 levels deep" in str(raised.value)


def test_logic_nested_32_deep_is_read() -> None:
    document = {
        "1": {"name": "order.amount", "conditions": {"$is": [4890]}},
        "logic": "(" * 16 + "not " * 16 + "1" + ")" * 16,
    }
    assert evaluate(parse(document), FACTS).passed


@pytest.mark.parametrize(
    "key",
    ["\u0661", "\uff11", "12345", "1" * 5000, "0", "01", " 1"],
    ids=["arabic-indic", "fullwidth", "five-digits", "huge", "zero", "leading-zero", "space"],
)
def test_rule_keys_are_short_ascii_numbers(key: str) -> None:
    entry = {"name": "order.amount", "conditions": {"$is": [1]}}
    with pytest.raises(RuleError) as raised:
        parse({key: entry})
    assert "keys are rule numbers" in str(raised.value)
    assert parse({"9999": entry, "logic": "9999"}).entries.keys() == {"9999"}
