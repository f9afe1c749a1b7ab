"""Whether a voucher may be used at a given moment (BEHAVIOR 10.14). Pure: no I/O.

Time rules are read in UTC: Tally has no project time zone yet.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tally.core.durations import fixed_duration as fixed_duration


@dataclass(frozen=True)
class Refusal:
    key: str
    message: str


DISABLED = Refusal("voucher_disabled", "voucher is disabled")
NOT_ACTIVE = Refusal("voucher_not_active", "voucher not active")
EXPIRED = Refusal("voucher_expired", "voucher expired")
NOT_ACTIVE_NOW = Refusal("voucher_not_active_now", "voucher not active now")
QUANTITY_EXCEEDED = Refusal("quantity_exceeded", "quantity exceeded")


def refusal(voucher: Mapping[str, Any], now: datetime) -> Refusal | None:
    """Why ``voucher`` cannot be used at ``now``, or None when it can."""
    if not voucher["active"]:
        return DISABLED
    start, end = voucher["start_date"], voucher["expiration_date"]
    if start is not None and now < start:
        return NOT_ACTIVE
    if end is not None and now > end:
        return EXPIRED
    if not _in_timeframe(voucher, now) or not _on_day(voucher, now) or not _in_hours(voucher, now):
        return NOT_ACTIVE_NOW
    quantity = voucher["redemption_quantity"]
    if quantity is not None and voucher["redeemed_quantity"] >= quantity:
        return QUANTITY_EXCEEDED
    return None


def _weekday(now: datetime) -> int:
    # Voucherify counts days from Sunday (0) to Saturday (6).
    return (now.weekday() + 1) % 7


def _on_day(voucher: Mapping[str, Any], now: datetime) -> bool:
    days = voucher["validity_day_of_week"]
    return not days or _weekday(now) in days


def _in_hours(voucher: Mapping[str, Any], now: datetime) -> bool:
    hours = voucher["validity_hours"]
    windows = (hours or {}).get("daily") or []
    if not windows:
        return True
    clock = now.strftime("%H:%M")
    for window in windows:
        days = window.get("days_of_week") or []
        start, end = window["start_time"], window["expiration_time"]
        if start < end:
            inside, opened = start <= clock < end, _weekday(now)
        elif clock >= start:
            inside, opened = True, _weekday(now)
        else:
            # After midnight in a window that runs past it: the window of the day before
            # (as $timeframe_daily_hours reads it, tally.core.rules.DailyHours).
            inside, opened = clock < end, (_weekday(now) - 1) % 7
        if inside and (not days or opened in days):
            return True
    return False


def _in_timeframe(voucher: Mapping[str, Any], now: datetime) -> bool:
    """validity_timeframe: active for ``duration`` at the start of every ``interval``,
    counted from start_date (else from creation)."""
    frame = voucher["validity_timeframe"]
    if not frame:
        return True
    interval = fixed_duration(frame["interval"])
    duration = fixed_duration(frame["duration"])
    if interval is None or duration is None or interval <= timedelta(0):
        return False  # refused when the voucher is created; never valid if stored anyway
    anchor: datetime = voucher["start_date"] or voucher["created_at"]
    if now < anchor:
        return False
    return (now - anchor) % interval < duration
