"""Request field types shared by every domain's schemas."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StrictInt,
    model_validator,
)

from tally.clock import as_utc
from tally.core.money import MAX_MONEY, MAX_QUANTITY, round_half_up


class RequestModel(BaseModel):
    # Unknown fields are ignored, as Voucherify does (BEHAVIOR 4.2).
    model_config = ConfigDict(extra="ignore")


def _empty_to_none(value: Any) -> Any:
    # An empty source_id means "none" (BEHAVIOR 3.3).
    return None if value == "" else value


def _number_to_cents(value: Any) -> Any:
    # Catalogue prices are typed `number`: accept any, keep whole cents (BEHAVIOR 1.5).
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return value
        if abs(value) > MAX_MONEY:
            # Out of range whatever its cents: the range check says so. Decimal cannot
            # quantize a value as large as 1e247 (it raised, a 500).
            return int(value)
        return round_half_up(value)
    return value


def _digits_to_int(value: Any) -> Any:
    # Quantities arrive as "1" from some clients (BEHAVIOR 5.2); other strings stay invalid.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 9:
        return int(value)
    return value


# The length limit sits on the string itself: on the union it would also judge the None
# that "" becomes.
SourceId = Annotated[Annotated[str, Field(max_length=255)] | None, BeforeValidator(_empty_to_none)]
Money = Annotated[StrictInt, Field(ge=0, le=MAX_MONEY)]
Price = Annotated[StrictInt, BeforeValidator(_number_to_cents), Field(ge=0, le=MAX_MONEY)]
Quantity = Annotated[StrictInt, BeforeValidator(_digits_to_int), Field(ge=1, le=MAX_QUANTITY)]
Metadata = dict[str, Any]
ShortText = Annotated[str, Field(max_length=1000)]
LongText = Annotated[str, Field(max_length=10_000)]


def _storable_moment(value: datetime) -> datetime:
    # Every moment is stored in UTC. ISO 8601 allows an offset that takes a moment of year
    # 1 or 9999 out of the years a datetime holds: refused here, not a 500 when stored.
    try:
        as_utc(value)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None
    return value


# A date-time a client sends (naive values are read as UTC).
Moment = Annotated[datetime, AfterValidator(_storable_moment)]

MAX_ID_LENGTH = 255
ObjectId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]


# Free-form JSON (metadata, attributes) is stored and printed back as sent, so it must be
# something both engines store and read back unchanged: no NUL characters (PostgreSQL text
# refuses them), no lone surrogates (not UTF-8), integers within 64 bits (what the JSON
# encoder prints) and finite floats (JSON has no NaN or Infinity; jsonb refuses them).
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_MAX_DEPTH = 32


def _json_problem(value: Any, path: str, depth: int = 0) -> tuple[str, str] | None:
    if depth > _MAX_DEPTH:
        return path, f"cannot be nested deeper than {_MAX_DEPTH} levels"
    if isinstance(value, str):
        return _text_problem(value, path)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            return path, f"must be an integer between {_INT_MIN} and {_INT_MAX}"
        return None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return path, "must be a finite number"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}"
            found = _text_problem(str(key), f"{path} key {key!r}") or _json_problem(
                item, where, depth + 1
            )
            if found:
                return found
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _json_problem(item, f"{path}[{index}]", depth + 1)
            if found:
                return found
    return None


def _storable_json(value: Any, depth: int = 0) -> bool:
    """Whether the value is storable, found without building a path per value (the walk
    with paths ran for every request body and cost 0.2 ms an order of three lines); that
    walk runs only when this says no, to name the problem. It agrees with
    :func:`_json_problem` on everything JSON can hold; for keys that are not strings
    (which no JSON body has) it says no and leaves the verdict to the full walk."""
    kind = type(value)
    if kind is str:
        return "\x00" not in value and (value.isascii() or _utf8(value))
    if kind is dict:
        if depth >= _MAX_DEPTH:
            return not value
        for key, item in value.items():
            if type(key) is not str or "\x00" in key or not (key.isascii() or _utf8(key)):
                return False
            if not _storable_json(item, depth + 1):
                return False
        return True
    if kind is list:
        if depth >= _MAX_DEPTH:
            return not value
        return all(_storable_json(item, depth + 1) for item in value)
    if kind is int:
        return bool(_INT_MIN <= value <= _INT_MAX)
    if kind is float:
        return bool(value == value and value not in (float("inf"), float("-inf")))
    if value is None or kind is bool:
        return True
    return _json_problem(value, "", depth) is None  # anything else: the full rules


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text_problem(text: str, path: str) -> tuple[str, str] | None:
    if "\x00" in text:
        return path, "cannot contain the NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return path, "must be valid Unicode text (it holds a lone surrogate)"
    return None


class StorableJSONError(ValueError):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"Property {path or '.'} {problem}")


# Set while a request body's fields are validated: a body model nested in another (an order
# inside a validation request) was checked with the whole and is not walked again.
_CHECKED = ContextVar("tally_body_checked", default=False)


@contextmanager
def checked_already() -> Iterator[None]:
    """Validate bodies known to be storable (written by Tally from bodies it checked, such
    as a queued import's orders) without walking them again."""
    token = _CHECKED.set(True)
    try:
        yield
    finally:
        _CHECKED.reset(token)


class RequestBody(RequestModel):
    """A whole request body. Before any field is validated, every string and number in it is
    checked to be storable on both engines, so nothing that would fail later (a database
    error, a response that cannot be encoded) is ever written."""

    @model_validator(mode="wrap")
    @classmethod
    def _storable(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if _CHECKED.get():
            return handler(data)
        found = None if _storable_json(data) else _json_problem(data, "")
        if found:
            raise StorableJSONError(*found)
        token = _CHECKED.set(True)
        try:
            return handler(data)
        finally:
            _CHECKED.reset(token)
