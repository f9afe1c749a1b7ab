"""CSV cells of exports (tally.core.csv_cells): every line reads back, cell for cell, with
the csv module; no cell of user text opens with what a spreadsheet runs as a formula; and
reading a cell back gives the exact text written."""

import csv
import io

from hypothesis import example, given
from hypothesis import strategies as st

from tally.core import csv_cells

# Text of every kind, with the characters that matter over-represented.
tricky = st.text(alphabet=st.sampled_from(list("=+-@'\t\r\n,\" aZ0ż\x00")), max_size=12)
texts = st.one_of(st.text(max_size=30), tricky)


def read_line(line: str) -> list[str]:
    return next(csv.reader(io.StringIO(line, newline="")))


@given(st.lists(texts, min_size=1, max_size=6))
@example(["=1+1", "-2", "a,b", 'say "hi"', "x\ny"])
@example([""])
@example(["'=already"])
def test_a_line_reads_back_as_its_cells(values: list[str]) -> None:
    cells = [csv_cells.text(v) for v in values]
    line = csv_cells.line([csv_cells.quote(c) for c in cells])
    assert line.endswith("\n")
    assert read_line(line) == cells
    assert [csv_cells.untext(c) for c in cells] == values


@given(texts)
def test_no_text_cell_starts_a_formula(value: str) -> None:
    cell = csv_cells.text(value)
    assert cell == "" or cell[0] not in csv_cells.FORMULA_STARTS
    assert csv_cells.untext(cell) == value


@given(
    st.one_of(
        st.integers(min_value=-(10**15), max_value=10**15),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
        texts,
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    )
)
def test_metadata_values(value: object) -> None:
    cell = csv_cells.json_value(value)
    if value is None:
        assert cell == ""
    elif isinstance(value, bool):
        assert cell == ("true" if value else "false")
    elif isinstance(value, int | float):
        assert float(cell) == value  # a number as itself, a minus sign left alone
    elif isinstance(value, str):
        assert csv_cells.untext(cell) == value
    else:
        assert cell[0] in "[{" and " " not in cell.replace('" ', "").replace(' "', "")
    assert read_line(csv_cells.line([csv_cells.quote(cell)])) == [cell]
