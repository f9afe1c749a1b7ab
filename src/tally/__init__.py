"""Tally: a self-hosted orders and promotions engine that speaks Voucherify's public API."""

from pathlib import Path

from tally.compiled import check as _check_compiled

__version__ = "0.1.0"

# Before any compiled module is imported: refuse to run code older than its source.
_check_compiled(Path(__file__).parent)
