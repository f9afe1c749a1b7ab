"""Order files for ``tally orders import``: read into the bodies POST /v1/orders/import takes.

- JSON: an array of orders (``[{...}, ...]``), ``{"orders": [...]}``, or one order.
- JSON lines (``.jsonl``/``.ndjson``): one order a line.
- CSV with a header: the columns an order export writes, so a file exported from one Tally
  imports into another. ``id``, ``source_id``, ``status``, ``amount``, ``created_at``,
  ``customer_id``/``customer_source_id``, ``referrer_id``/``referrer_source_id``,
  ``metadata`` (a JSON object, exact), ``metadata.<key>`` (a JSON number, boolean, array
  or object is read as one, anything else as text; a key the ``metadata`` column has is
  taken from there) and ``items`` (a JSON array of order items).
  Figures Tally computes (``discount_amount``, ``total_amount``, ``updated_at``, ...) are
  left out: an import computes them again. An empty cell is an absent field. A cell the
  export defused (an apostrophe before ``=``, ``+``, ``-``, ``@`` or ``'``) is read back
  without it. ``id``, ``customer_id`` and ``referrer_id`` name objects of the project
  imported into, as in the API: to copy orders to another project, leave them out.
"""

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from tally.core.csv_cells import untext

TEXT_COLUMNS = ("id", "source_id", "status")
COMPUTED_COLUMNS = frozenset(
    {
        "updated_at",
        "initial_amount",
        "discount_amount",
        "items_discount_amount",
        "total_discount_amount",
        "total_amount",
    }
)
KNOWN_COLUMNS = (
    "id",
    "source_id",
    "status",
    "amount",
    "created_at",
    "customer_id",
    "customer_source_id",
    "referrer_id",
    "referrer_source_id",
    "metadata",
    "items",
)


class OrderFileError(ValueError):
    """The file cannot be read as orders at all (nothing of it is imported)."""


def read_orders(path: Path) -> list[dict[str, Any]]:
    """Every order of the file, as request bodies (each is checked when it is imported)."""
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig")
    kind = path.suffix.lower()
    first = text.lstrip()[:1]
    if kind in (".jsonl", ".ndjson") or (kind != ".json" and first == "{" and "\n{" in text):
        # Split on newlines only: JSON strings may hold U+2028 and friends unescaped, which
        # str.splitlines() would cut at.
        return [
            _object(_json(line.rstrip("\r"), "the order", n), n)
            for n, line in enumerate(text.split("\n"), start=1)
            if line.strip()
        ]
    if kind == ".json" or first in ("[", "{"):
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise OrderFileError(f"{path.name} is not JSON: {exc}") from None
        if isinstance(document, dict):
            # {"orders": [...]}, or one order alone.
            document = (
                document["orders"] if isinstance(document.get("orders"), list) else [document]
            )
        if not isinstance(document, list):
            raise OrderFileError(f"{path.name}: expected an array of orders")
        return [_object(order, n + 1) for n, order in enumerate(document)]
    return list(_csv_orders(text))


def _object(value: Any, where: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise OrderFileError(f"order {where} is not a JSON object")
    return value


def _csv_orders(text: str) -> Iterator[dict[str, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise OrderFileError("the CSV file is empty (it needs a header line)")
    unknown = [
        name
        for name in header
        if name not in KNOWN_COLUMNS
        and name not in COMPUTED_COLUMNS
        and not (name.startswith("metadata.") and len(name) > len("metadata."))
    ]
    if unknown:
        raise OrderFileError(
            f"unknown CSV columns: {', '.join(unknown)}; known: "
            f"{', '.join(KNOWN_COLUMNS)}, metadata.<key> (ignored: "
            f"{', '.join(sorted(COMPUTED_COLUMNS))})"
        )
    for line_no, row in enumerate(reader, start=2):
        if not row:  # a blank line (a one-column file's empty cell is written "")
            continue
        if len(row) != len(header):
            raise OrderFileError(f"line {line_no}: {len(row)} cells for {len(header)} columns")
        yield _csv_order(dict(zip(header, row, strict=True)), line_no)


def _csv_order(cells: dict[str, str], line_no: int) -> dict[str, Any]:
    order: dict[str, Any] = {}
    for name in TEXT_COLUMNS:
        if cells.get(name):
            order[name] = untext(cells[name])
    if cells.get("amount"):
        amount = cells["amount"]
        order["amount"] = int(amount) if amount.isascii() and amount.isdigit() else amount
    if cells.get("created_at"):
        order["created_at"] = cells["created_at"]
    for who in ("customer", "referrer"):
        ref = {}
        if cells.get(f"{who}_id"):
            ref["id"] = cells[f"{who}_id"]
        if cells.get(f"{who}_source_id"):
            ref["source_id"] = untext(cells[f"{who}_source_id"])
        if ref:
            order[who] = ref
    metadata: dict[str, Any] = {}
    if cells.get("metadata"):
        metadata = _json(cells["metadata"], "metadata", line_no)
        if not isinstance(metadata, dict):
            raise OrderFileError(f"line {line_no}: metadata is not a JSON object")
    # The metadata column is exact JSON; a metadata.<key> cell only adds a key it lacks
    # (a cell cannot tell the text "123" from the number).
    for name, cell in cells.items():
        key = name[len("metadata.") :]
        if name.startswith("metadata.") and cell and key not in metadata:
            metadata[key] = metadata_value(cell)
    if metadata:
        order["metadata"] = metadata
    if cells.get("items"):
        order["items"] = _json(cells["items"], "items", line_no)
    return order


def _json(cell: str, column: str, line_no: int) -> Any:
    try:
        return orjson.loads(cell)
    except orjson.JSONDecodeError:
        raise OrderFileError(f"line {line_no}: {column} is not JSON") from None


def metadata_value(cell: str) -> Any:
    """A ``metadata.<key>`` cell: JSON numbers, booleans, arrays and objects as such (the
    forms an export writes them in), anything else as text."""
    if cell[0] in "-0123456789tf[{":
        try:
            value = orjson.loads(cell)
        except orjson.JSONDecodeError:
            return untext(cell)
        if not isinstance(value, str) and value is not None:
            return value
    return untext(cell)
