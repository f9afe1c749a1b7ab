"""Vouchers: create with a given or a generated code, get by code.

Keyword-only functions over one connection; the caller owns the transaction.
"""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import Connection

from tally import ids
from tally.core.discounts import Discount, DiscountType, Effect
from tally.db.prepared import Row
from tally.errors import TallyError, duplicate, invalid_payload, not_found
from tally.products import repository as catalogue
from tally.validation_rules import service as validation_rules
from tally.vouchers import repository
from tally.vouchers.codes import CodeConfigError, make_code
from tally.vouchers.schemas import VoucherCreate, VoucherGenerate
from tally.vouchers.tables import VOUCHER_ID_LENGTH, VOUCHER_ID_PREFIX

# Generated codes that collide with existing ones are drawn again, a few times: a config
# with room for only a handful of codes then fails clearly instead of looping.
_CODE_ATTEMPTS = 10


def get(conn: Connection, *, project_id: str, code: str) -> Row:
    row = repository.get_by_code(conn, project_id, code)
    if row is None:
        raise not_found("voucher", code)
    return row


def find(conn: Connection, *, project_id: str, ref: str) -> Row | None:
    """A voucher named inside redeemables: by code, else by its v_ id (BEHAVIOR 3.5)."""
    row = repository.get_by_code(conn, project_id, ref)
    if row is None and ref.startswith(f"{VOUCHER_ID_PREFIX}_"):
        row = repository.get_by_id(conn, project_id, ref)
    return row


def core_discount(voucher: Mapping[str, Any]) -> Discount:
    """The stored discount as the calculation core takes it."""
    stored = voucher["discount"]
    get = stored.get
    return _discount(
        stored["type"],
        stored["effect"],
        get("amount_off"),
        get("percent_off"),
        get("fixed_amount"),
        get("amount_limit"),
        get("aggregated_amount_limit"),
    )


# Every validation makes the discounts of its vouchers, and a project has few distinct
# ones: made (and checked) once each. A Discount is immutable.
@lru_cache(maxsize=4096)
def _discount(
    type_: DiscountType,
    effect: Effect,
    amount_off: int | None,
    percent: float | None,
    fixed_amount: int | None,
    amount_limit: int | None,
    aggregated_amount_limit: int | None,
) -> Discount:
    return Discount(
        type=type_,
        effect=effect,
        amount_off=amount_off,
        percent_off=None if percent is None else _fraction(percent),
        fixed_amount=fixed_amount,
        amount_limit=amount_limit,
        aggregated_amount_limit=aggregated_amount_limit,
    )


# A percentage read back from JSON, as the exact fraction it was written as (12.5 ->
# 25/2). Parsing its text costs more than the rest of the conversion, and a project has
# few distinct percentages: cached.
@lru_cache(maxsize=1024)
def _fraction(percent: float) -> Fraction:
    return Fraction(str(percent))


def create(
    conn: Connection, *, project_id: str, code: str, body: VoucherCreate, now: datetime
) -> dict[str, Any]:
    """POST /v1/vouchers/{code}: a voucher with this exact code; a taken code is 409."""
    return _made(conn, project_id=project_id, code=code, body=body, now=now)


def _made(
    conn: Connection, *, project_id: str, code: str, body: VoucherCreate, now: datetime
) -> dict[str, Any]:
    """A new voucher from ``body``, with the validation rules it names assigned."""
    rule_ids = body.validation_rules or []
    targeted = validation_rules.check_rules(conn, project_id=project_id, rule_ids=rule_ids)
    fields = fields_of(conn, project_id, body, targeted=targeted)
    row = insert(conn, project_id=project_id, code=code, fields=fields, now=now)
    validation_rules.assign_new(
        conn,
        project_id=project_id,
        rule_ids=rule_ids,
        kind="voucher",
        related_id=row["id"],
        now=now,
    )
    return row


def generate(
    conn: Connection, *, project_id: str, body: VoucherGenerate, now: datetime
) -> dict[str, Any]:
    """POST /v1/vouchers: the code given in the body, else one made from code_config."""
    if body.code is not None:
        return create(conn, project_id=project_id, code=body.code, body=body, now=now)
    config = body.code_config.model_dump() if body.code_config else {}
    code = new_code(conn, project_id=project_id, config=config)
    return _made(conn, project_id=project_id, code=code, body=body, now=now)


def new_code(conn: Connection, *, project_id: str, config: Mapping[str, Any]) -> str:
    """A code made from ``config`` (CodeConfig) that no voucher of the project has yet."""
    for _ in range(_CODE_ATTEMPTS):
        try:
            code = make_code(**config)
        except CodeConfigError as exc:
            raise invalid_payload(str(exc)) from None
        if repository.get_by_code(conn, project_id, code) is None:
            return code
    raise invalid_payload(
        "Property .code_config leaves too few codes: every code drawn is already taken"
    )


def _taken(code: str) -> TallyError:
    return duplicate("voucher", f"A voucher with code {code} already exists", resource_id=code)


def fields_of(
    conn: Connection, project_id: str, body: VoucherCreate, *, targeted: bool = False
) -> dict[str, Any]:
    """The stored fields of a voucher created from ``body``, code and ids aside.
    ``targeted``: its validation rules name products or SKUs (see :func:`stored_discount`)."""
    assert body.discount is not None  # VoucherCreate requires it for discount vouchers
    discount = body.discount.model_dump(exclude_none=True)
    return {
        "type": body.type,
        "discount": stored_discount(conn, project_id, discount, targeted=targeted),
        "start_date": body.start_date,
        "expiration_date": body.expiration_date,
        "validity_timeframe": _dump(body.validity_timeframe),
        "validity_day_of_week": body.validity_day_of_week,
        "validity_hours": _dump(body.validity_hours),
        "active": True if body.active is None else body.active,
        "additional_info": body.additional_info,
        "metadata": body.metadata or {},
        "redemption_quantity": body.redemption.quantity if body.redemption else None,
    }


def insert(
    conn: Connection,
    *,
    project_id: str,
    code: str,
    fields: Mapping[str, Any],
    now: datetime,
    campaign_id: str | None = None,
) -> dict[str, Any]:
    """A new voucher with this code (a taken code is 409) and these fields."""
    if repository.get_by_code(conn, project_id, code) is not None:
        raise _taken(code)
    row: dict[str, Any] = {
        "id": ids.new_id(VOUCHER_ID_PREFIX, VOUCHER_ID_LENGTH),
        "project_id": project_id,
        "code": code,
        "campaign_id": campaign_id,
        **fields,
        "redeemed_quantity": 0,
        "created_at": now,
        "updated_at": None,
    }
    repository.insert(conn, row)
    return row


def _dump(model: Any) -> Any:
    return None if model is None else model.model_dump()


def stored_discount(
    conn: Connection, project_id: str, discount: dict[str, Any], *, targeted: bool = False
) -> dict[str, Any]:
    """The discount as stored and printed: effects filled in, and for UNIT discounts each
    free product checked to exist and described (``product``), as Voucherify prints it.
    ``targeted``: the validation rules it is made with name products or SKUs."""
    # percent_off is read as an exact decimal; it is stored and printed as a JSON number.
    percent = discount.get("percent_off")
    if isinstance(percent, Decimal):
        discount["percent_off"] = (
            int(percent) if percent == percent.to_integral() else float(percent)
        )
    if discount["type"] == "UNIT":
        units = discount.get("units") or [discount]
        products = catalogue.products_by_ids(conn, project_id, {u["unit_type"] for u in units})
        for unit in units:
            product = products.get(unit["unit_type"])
            if product is None:
                raise not_found("product", unit["unit_type"])
            unit.setdefault("effect", "ADD_MISSING_ITEMS")  # BEHAVIOR 11.2
            unit["product"] = {
                "id": product["id"],
                "source_id": product["source_id"],
                "name": product["name"],
            }
    # An amount or percent off the products its rules name applies to those items; without
    # such rules there are no products to target: APPLY_TO_ORDER (BEHAVIOR 11.2).
    targets_items = targeted and discount["type"] in ("AMOUNT", "PERCENT")
    discount.setdefault("effect", "APPLY_TO_ITEMS" if targets_items else "APPLY_TO_ORDER")
    discount["is_dynamic"] = False  # formulas are not built (BEHAVIOR 11.1)
    return discount
