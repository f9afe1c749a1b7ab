"""A time zone with a repeated hour, without the system's tz database."""

from datetime import datetime, timedelta, tzinfo


class SetBack(tzinfo):
    """A zone whose clocks go back an hour: 01:30 happens twice, first at -4 h (fold 0),
    then at -5 h (fold 1)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=-5 if dt is not None and dt.fold else -4)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=0 if dt is not None and dt.fold else 1)

    def tzname(self, dt: datetime | None) -> str:
        return "EST" if dt is not None and dt.fold else "EDT"
