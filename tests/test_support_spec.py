"""The spec validator must catch what it exists to catch, and accept OpenAPI 3.0 nulls."""

import copy

import pytest

from support.spec import assert_matches, schema_errors, spec_dir

ORDER: dict[str, object] = {
    "id": "ord_1",
    "source_id": "order-1",
    "object": "order",
    "status": "CREATED",
    "amount": 2000,
    "total_amount": 2000,
    "metadata": {},
    "created_at": "2021-12-22T10:13:06.487Z",
    "updated_at": None,
    "customer_id": None,
    "referrer_id": None,
    "items": [{"object": "order_item", "quantity": 2, "amount": 2000}],
    "redemptions": {},
}


def order(**changes: object) -> dict[str, object]:
    value = copy.deepcopy(ORDER)
    value.update(changes)
    return value


def test_spec_dir_holds_the_openapi_files() -> None:
    assert (spec_dir() / "openapi" / "orders.json").is_file()


def test_accepts_a_conforming_order() -> None:
    assert_matches(order(), file="orders", schema="OrdersGetResponseBody")
    assert_matches(order(), "orders.json", "OrdersGetResponseBody")


def test_accepts_null_where_the_spec_says_nullable() -> None:
    # source_id and updated_at are `nullable: true` inside OrderCalculated (reached via allOf).
    assert_matches(order(source_id=None), file="orders", schema="OrdersGetResponseBody")
    # `nullable` on a schema that has no `type`, only allOf.
    errors = schema_errors({"order": None}, "redemptions", "RedemptionRollback")
    assert errors, "the other required fields are missing, so there must be errors"
    assert not [e for e in errors if e.startswith("$.order")], errors


def test_rejects_null_where_the_spec_does_not_allow_it() -> None:
    with pytest.raises(AssertionError, match=r"\$\.amount: None is not of type 'integer'"):
        assert_matches(order(amount=None), file="orders", schema="OrdersGetResponseBody")
    errors = schema_errors({"order": "not-an-order"}, "redemptions", "RedemptionRollback")
    assert any(e.startswith("$.order: 'not-an-order' is not of type 'object'") for e in errors)


def test_rejects_a_wrong_type() -> None:
    with pytest.raises(AssertionError, match=r"\$\.amount: '2000' is not of type 'integer'"):
        assert_matches(order(amount="2000"), file="orders", schema="OrdersGetResponseBody")
    # A wrong type behind a nullable wrapper still names the real problem.
    with pytest.raises(AssertionError, match=r"\$\.source_id: 5 is not of type 'string'"):
        assert_matches(order(source_id=5), file="orders", schema="OrdersGetResponseBody")


def test_rejects_a_missing_required_field() -> None:
    with pytest.raises(AssertionError, match=r"'message' is a required property"):
        assert_matches({"code": 404, "key": "not_found"}, file="orders", schema="Error")
    listing = {"object": "list", "data_ref": "orders", "orders": [order()]}
    with pytest.raises(AssertionError, match=r"'total' is a required property"):
        assert_matches(listing, file="orders", schema="OrdersListResponseBody")


def test_follows_refs_into_nested_items() -> None:
    bad_item = order(items=[{"quantity": 1}])  # OrderCalculatedItem requires "object"
    with pytest.raises(AssertionError, match=r"\$\.items\[0\]: 'object' is a required property"):
        assert_matches(bad_item, file="orders", schema="OrdersGetResponseBody")


def test_rejects_a_bad_enum_value_and_a_bad_timestamp() -> None:
    with pytest.raises(AssertionError, match=r"\$\.status: 'OPEN' is not one of"):
        assert_matches(order(status="OPEN"), file="orders", schema="OrdersGetResponseBody")
    for stamp in ("yesterday", "2021-12-22 10:13:06", "2021-13-22T10:13:06Z"):
        with pytest.raises(AssertionError, match=r"\$\.created_at: .* is not a 'date-time'"):
            assert_matches(order(created_at=stamp), file="orders", schema="OrdersGetResponseBody")


def test_unknown_schema_is_an_error_not_a_pass() -> None:
    with pytest.raises(KeyError, match="NoSuchSchema"):
        assert_matches({}, file="orders", schema="NoSuchSchema")


def test_a_one_of_over_objects_that_require_nothing_is_checked_as_any_of() -> None:
    # validations.json's redeemable result: five loose objects, so a voucher's result
    # matches all of them; taken as oneOf nothing could pass.
    result = {"discount": {"type": "AMOUNT", "amount_off": 100, "effect": "APPLY_TO_ORDER"}}
    applicable = {"status": "APPLICABLE", "id": "CODE", "object": "voucher", "result": result}
    assert schema_errors(applicable, "validations", "ValidationsRedeemableApplicable") == []
    # Only that oneOf is loosened: the rest of the object is checked as before, and the
    # caller checks the result against its own branch (RedeemableResultVoucherCode).
    assert schema_errors(
        {**applicable, "status": "VALID"}, "validations", "ValidationsRedeemableApplicable"
    )
    bad_discount = {"discount": {"type": "AMOUNT", "amount_off": "x"}}
    assert schema_errors(bad_discount, "validations", "RedeemableResultVoucherCode")
