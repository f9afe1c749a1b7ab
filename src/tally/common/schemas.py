"""Request field types shared by every domain's schemas."""

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

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
ObjectId = Annotated[str, Field(min_length=1, max_length=255)]
