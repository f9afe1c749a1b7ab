"""How the dashboard prints values: money from integer cents, dates, statuses."""

from datetime import datetime
from typing import Any


def money(cents: int | None, currency: str | None = None) -> str:
    """1234567 -> "12,345.67" (with the currency code, when the project has one): integer
    arithmetic, never a float."""
    if cents is None:
        return "—"
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    text = f"{sign}{whole:,}.{part:02d}"
    return f"{text} {currency}" if currency else text


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def status_class(status: str | None) -> str:
    return {
        "PAID": "good",
        "FULFILLED": "good",
        "SUCCEEDED": "good",
        "SUCCESS": "good",
        "CANCELED": "bad",
        "FAILED": "bad",
        "FAILURE": "bad",
        "ROLLED_BACK": "warn",
    }.get(status or "", "neutral")


def filters() -> dict[str, Any]:
    """The template filters."""
    return {"money": money, "when": when, "status_class": status_class}
