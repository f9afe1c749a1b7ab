"""Which lines a discount's rules let it touch (tally.core.applicable, BEHAVIOR 11.5)."""

from tally.core.applicable import Applicable, Item, applicable_of, targets
from tally.core.discounts import Target
from tally.core.rules import LineFacts

MUG = LineFacts(quantity=1, price=100, amount=100, product_id="prod_mug", product_source_id="mug")
CAP = LineFacts(quantity=1, price=100, amount=100, product_id="prod_cap", product_source_id="cap")
PEN = LineFacts(quantity=1, price=100, amount=100, product_id="prod_pen", product_source_id="pen")
MUG_RED = LineFacts(
    quantity=1,
    price=100,
    amount=100,
    product_id="prod_mug",
    product_source_id="mug",
    sku_id="sku_red",
    sku_source_id="mug-red",
)
LINES = (MUG, CAP, PEN, MUG_RED)


def test_rules_that_say_nothing_leave_every_line() -> None:
    assert targets([Applicable()], LINES, 4) is None
    assert targets([], LINES, 4) is None


def test_a_product_reaches_its_skus_unless_strict() -> None:
    loose = Applicable(included=(Item("product", source_id="mug"),))
    assert targets([loose], LINES, 4) == [Target((0, 3))]
    strict = Applicable(included=(Item("product", id="prod_mug", strict=True),))
    assert targets([strict], LINES, 4) == [Target((0,))]
    sku = Applicable(included=(Item("sku", source_id="mug-red", amount_limit=5),))
    assert targets([sku], LINES, 4) == [Target((3,), amount_limit=5)]


def test_excluded_wins_and_an_exclude_only_rule_reaches_the_rest() -> None:
    both = Applicable(
        included=(Item("product", source_id="mug"),), excluded=(Item("sku", id="sku_red"),)
    )
    assert targets([both], LINES, 4) == [Target((0,))]
    only_excluded = Applicable(excluded=(Item("product", source_id="pen"),))
    # Lines a discount added in this request (index 4: no facts) are reached too.
    assert targets([only_excluded], LINES, 5) == [Target((0, 1, 3, 4))]


def test_a_second_rule_that_only_excludes_does_not_widen_the_first() -> None:
    mugs = Applicable(included=(Item("product", source_id="mug"),))
    no_pens = Applicable(excluded=(Item("product", source_id="pen"),))
    assert targets([mugs, no_pens], LINES, 4) == [Target((0, 3))]
    everything = Applicable(included_all=True, excluded=(Item("product", source_id="cap"),))
    assert targets([mugs, everything], LINES, 4) == [Target((0, 3)), Target((0, 2, 3))]


def test_stored_entries_read_back() -> None:
    stored = {
        "included": [{"object": "product", "id": "prod_mug", "quantity_limit": 2}],
        "excluded": [{"object": "sku", "source_id": "mug-red", "strict": False}],
        "included_all": False,
    }
    assert applicable_of(stored) == Applicable(
        included=(Item("product", id="prod_mug", quantity_limit=2),),
        excluded=(Item("sku", source_id="mug-red"),),
    )
    assert applicable_of(None).empty
