"""Values as CSV cells for exports (BEHAVIOR 18.8): pure, no I/O.

Quoting of commas, quotes and line breaks is the csv module's (RFC 4180). What is decided
here is the text of a cell: text a user wrote (source ids, metadata) that begins like a
spreadsheet formula is defused with a leading apostrophe, so opening the file in a
spreadsheet never runs it (CSV injection). Numbers Tally produces are left alone: a
negative number is data, not a formula.
"""

from typing import Any

import orjson

# What makes Excel, LibreOffice or Google Sheets read a cell as a formula (OWASP's list;
# tab and carriage return also start one after the program strips them).
FORMULA_STARTS = frozenset("=+-@\t\r")


def text(value: str | None) -> str:
    """User text as a cell: empty for none, defused when it could start a formula."""
    if not value:
        return ""
    if value[0] in FORMULA_STARTS:
        return "'" + value
    return value


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
    if isinstance(value, int | float):
        return orjson.dumps(value).decode()
    return json_text(value)


def json_text(value: Any) -> str:
    """Compact JSON: a whole ``metadata`` column. Strings inside it are not defused: the
    cell starts with ``{``, which no spreadsheet reads as a formula."""
    return orjson.dumps(value).decode()
