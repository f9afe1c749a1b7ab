"""Values as CSV cells for exports (BEHAVIOR 18.8): pure, no I/O.

Two decisions per cell. Its text: text a user wrote (source ids, metadata) that begins like
a spreadsheet formula is defused with a leading apostrophe, so opening the file in a
spreadsheet never runs it (CSV injection); numbers are left alone (a negative number is
data, not a formula). Its quoting, RFC 4180 as the csv module's minimal quoting does it:
a cell with a comma, a double quote or a line break is quoted, its quotes doubled. Done
here rather than by csv.writer, which took 9 us a row of ten cells (most of an export).
"""

import json
from typing import Any

import orjson

# What makes Excel, LibreOffice or Google Sheets read a cell as a formula (OWASP's list;
# tab and carriage return also start one after the program strips them).
FORMULA_STARTS = frozenset("=+-@\t\r")


# Text that starts with the apostrophe itself gets one more, so reading a cell back is
# always "drop one leading apostrophe" (tally.orders.files.undefused) and exact; a
# spreadsheet shows such a cell as it was written, too.
ESCAPED_STARTS = FORMULA_STARTS | {"'"}


def text(value: str | None) -> str:
    """User text as a cell: empty for none, defused when it could start a formula."""
    if not value:
        return ""
    if value[0] in ESCAPED_STARTS:
        return "'" + value
    return value


def untext(cell: str) -> str:
    """The text :func:`text` made ``cell`` from."""
    return cell[1:] if cell[:1] == "'" else cell


def quote(cell: str) -> str:
    """``cell`` as it is written between commas."""
    if '"' in cell:
        return '"' + cell.replace('"', '""') + '"'
    if "," in cell or "\n" in cell or "\r" in cell:
        return '"' + cell + '"'
    return cell


def line(cells: list[str]) -> str:
    """One CSV line of already quoted cells. A line of one empty cell is written as ``""``:
    an empty line would read back as no cells at all."""
    if len(cells) == 1 and not cells[0]:
        return '""\n'
    return ",".join(cells) + "\n"


def json_value(value: Any) -> str:
    """A metadata value as a cell: text as text (defused), numbers and booleans in their JSON
    form, lists and objects as compact JSON (they start with ``[`` or ``{``), null empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return text(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    return json_text(value)


def json_text(value: Any) -> str:
    """Compact JSON: a whole ``metadata`` column. Strings inside it are not defused: the
    cell starts with ``{``, which no spreadsheet reads as a formula."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer past 64 bits, which orjson refuses and json writes
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
