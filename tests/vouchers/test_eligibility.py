"""When a voucher may be used (pure rules), and codes made from a code_config."""

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from tally.core.rules import DailyHours
from tally.vouchers import eligibility
from tally.vouchers.codes import CodeConfigError, make_code

# A Monday (Voucherify day 1).
MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def voucher(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "active": True,
        "start_date": None,
        "expiration_date": None,
        "validity_timeframe": None,
        "validity_day_of_week": None,
        "validity_hours": None,
        "redemption_quantity": None,
        "redeemed_quantity": 0,
        "created_at": MONDAY_NOON - timedelta(days=30),
    }
    return {**base, **fields}


def refused(now: datetime = MONDAY_NOON, **fields: Any) -> str | None:
    why = eligibility.refusal(voucher(**fields), now)
    return None if why is None else why.key


def test_dates_and_the_active_flag() -> None:
    assert refused() is None
    assert refused(active=False) == "voucher_disabled"
    assert refused(start_date=MONDAY_NOON + timedelta(seconds=1)) == "voucher_not_active"
    assert refused(start_date=MONDAY_NOON) is None
    assert refused(expiration_date=MONDAY_NOON - timedelta(seconds=1)) == "voucher_expired"
    assert refused(expiration_date=MONDAY_NOON) is None


def test_redemption_quantity() -> None:
    assert refused(redemption_quantity=3, redeemed_quantity=2) is None
    assert refused(redemption_quantity=3, redeemed_quantity=3) == "quantity_exceeded"


def test_days_of_the_week_count_from_sunday() -> None:
    assert refused(validity_day_of_week=[1]) is None
    assert refused(validity_day_of_week=[0, 2, 3, 4, 5, 6]) == "voucher_not_active_now"
    sunday = MONDAY_NOON - timedelta(days=1)
    assert refused(sunday, validity_day_of_week=[0]) is None


def test_daily_hours_including_windows_past_midnight() -> None:
    def hours(start: str, end: str, days: list[int] | None = None) -> dict[str, Any]:
        return {
            "daily": [{"start_time": start, "expiration_time": end, "days_of_week": days or []}]
        }

    assert refused(validity_hours=hours("09:00", "17:00")) is None
    assert refused(validity_hours=hours("13:00", "17:00")) == "voucher_not_active_now"
    assert refused(validity_hours=hours("12:00", "12:01")) is None
    assert refused(validity_hours=hours("11:00", "12:00")) == "voucher_not_active_now"
    assert refused(validity_hours=hours("22:00", "13:00")) is None  # 22:00 to 13:00 next day
    assert refused(validity_hours=hours("09:00", "17:00", [2])) == "voucher_not_active_now"


def test_a_window_past_midnight_belongs_to_the_day_it_opened() -> None:
    """22:00-02:00 on Fridays (5): Friday night to Saturday 02:00, not Thursday's tail; as
    $timeframe_daily_hours reads it."""
    friday_night = {
        "daily": [{"start_time": "22:00", "expiration_time": "02:00", "days_of_week": [5]}]
    }
    friday = MONDAY_NOON + timedelta(days=4)
    at = {
        "Fri 01:00": (friday.replace(hour=1), "voucher_not_active_now"),
        "Fri 21:59": (friday.replace(hour=21, minute=59), "voucher_not_active_now"),
        "Fri 22:00": (friday.replace(hour=22), None),
        "Sat 01:59": (friday.replace(hour=1, minute=59) + timedelta(days=1), None),
        "Sat 02:00": (friday.replace(hour=2) + timedelta(days=1), "voucher_not_active_now"),
    }
    rule = DailyHours(time(22), time(2), frozenset({5}))
    for name, (moment, why) in at.items():
        assert refused(moment, validity_hours=friday_night) == why, name
        assert rule.holds(moment) is (why is None), name


def test_timeframe_repeats_from_the_start_date() -> None:
    frame = {"interval": "P1D", "duration": "PT2H"}
    start = MONDAY_NOON - timedelta(days=3, hours=1)  # active 11:00-13:00 every day
    assert refused(validity_timeframe=frame, start_date=start) is None
    later = MONDAY_NOON + timedelta(hours=1, minutes=1)
    assert refused(later, validity_timeframe=frame, start_date=start) == "voucher_not_active_now"
    # Without a start date the frame counts from the voucher's creation.
    assert refused(validity_timeframe=frame, created_at=MONDAY_NOON) is None
    assert (
        refused(validity_timeframe=frame, created_at=MONDAY_NOON - timedelta(hours=3))
        == "voucher_not_active_now"
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("P1D", 86400), ("PT1H", 3600), ("P1W", 604800), ("P1DT12H30M5S", 131405), ("PT90M", 5400)],
)
def test_fixed_durations(text: str, seconds: int) -> None:
    assert eligibility.fixed_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["P", "PT", "P1M", "P1Y", "1D", "PT1.5H", ""])
def test_durations_without_a_fixed_length_are_not_read(text: str) -> None:
    assert eligibility.fixed_duration(text) is None


def test_codes_from_a_config() -> None:
    def first(chars: str) -> str:
        return chars[0]

    assert make_code(choose=first) == "00000000"
    assert make_code(length=3, charset="xyz", prefix="A-", postfix="-Z", choose=first) == "A-xxx-Z"
    assert make_code(pattern="##-#", charset="ab", choose=first) == "aa-a"
    # Repeated characters do not weigh a charset.
    assert make_code(length=2, charset="aaab", choose=lambda chars: chars[-1]) == "bb"
    with pytest.raises(CodeConfigError, match="pattern"):
        make_code(pattern="none")
