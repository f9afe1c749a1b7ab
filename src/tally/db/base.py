"""Table metadata shared by every domain, and the column types that behave the same on
SQLite and PostgreSQL."""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from tally.clock import KeptText

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _sqlite_form(utc: datetime) -> str:
    """The text SQLite keeps for a timestamp: naive UTC, to the microsecond."""
    return utc.replace(tzinfo=None).isoformat(" ", "microseconds")


_sqlite_text = KeptText(_sqlite_form)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC on the way out, whatever the engine stores."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        # SQLite keeps the text form; a naive UTC value sorts correctly as text.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Any:
        """On SQLite, the same text SQLAlchemy's DATETIME writes ("2026-11-24
        03:12:45.123000"), made in one step: a request binds dozens of timestamps, and the
        two-step way (this type's conversion, then DATETIME's %-formatting of a dict) costs
        three times as much."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        return _sqlite_text

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """On SQLite, the stored text to an aware UTC datetime in one step, as the two
        steps (DATETIME's parse, then this type's conversion) would give it: every row
        read carries timestamps, and the two steps cost three times as much."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parse = datetime.fromisoformat

        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            parsed = parse(value)
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JSONType: Any = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
