"""The official Python SDK (``voucherify`` 6.1.1) against a real ``tally serve``: discount
vouchers and stacked validation. The SDK must parse every response into its models, and the
raw bytes are checked against the official schemas."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from voucherify.api.orders_api import OrdersApi
from voucherify.api.validations_api import ValidationsApi
from voucherify.api.vouchers_api import VouchersApi
from voucherify.api_client import ApiClient
from voucherify.api_response import ApiResponse
from voucherify.configuration import Configuration
from voucherify.exceptions import NotFoundException
from voucherify.models.orders_create_request_body import OrdersCreateRequestBody
from voucherify.models.validations_validate_request_body import ValidationsValidateRequestBody
from voucherify.models.vouchers_create_request_body import VouchersCreateRequestBody
from voucherify.models.vouchers_create_with_specific_code_request_body import (
    VouchersCreateWithSpecificCodeRequestBody,
)

from support.server import LiveServer
from support.spec import assert_matches


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def checked(response: ApiResponse[Any], file: str, schema: str) -> dict[str, Any]:
    assert response.status_code == 200, response.raw_data
    body: dict[str, Any] = json.loads(response.raw_data)
    assert_matches(body, file=file, schema=schema)
    return body


class Sdk:
    def __init__(self, server: LiveServer) -> None:
        config = Configuration(
            host=server.base_url,
            api_key={"X-App-Id": server.app_id, "X-App-Token": server.app_token},
        )
        client = ApiClient(config)
        self.vouchers = VouchersApi(client)
        self.validations = ValidationsApi(client)
        self.orders = OrdersApi(client)

    def create(self, code: str, discount: dict[str, Any], **fields: Any) -> dict[str, Any]:
        body = VouchersCreateWithSpecificCodeRequestBody.from_dict(
            {"type": "DISCOUNT_VOUCHER", "discount": discount, **fields}
        )
        response = self.vouchers.create_voucher_with_http_info(code, body)
        return checked(response, "vouchers", "VouchersCreateResponseBody")

    def validate(self, body: dict[str, Any]) -> dict[str, Any]:
        request = ValidationsValidateRequestBody.from_dict(body)
        response = self.validations.validate_stacked_discounts_with_http_info(request)
        return checked(response, "validations", "ValidationsValidateResponseBody")


@pytest.fixture
def sdk(live_server: LiveServer) -> Sdk:
    return Sdk(live_server)


def test_create_generate_and_get_vouchers(sdk: Sdk) -> None:
    code = uid("SDK")
    created = sdk.create(
        code, {"type": "PERCENT", "percent_off": 15, "amount_limit": 500}, metadata={"a": 1}
    )
    assert created["code"] == code and created["discount"]["effect"] == "APPLY_TO_ORDER"
    fetched = sdk.vouchers.get_voucher_with_http_info(code)
    assert checked(fetched, "vouchers", "VouchersGetResponseBody") == created
    assert fetched.data.code == code and fetched.data.discount is not None
    generated = sdk.vouchers.generate_random_code_with_http_info(
        VouchersCreateRequestBody.from_dict(
            {
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "AMOUNT", "amount_off": 250},
                "code_config": {"length": 6, "prefix": "GEN-", "charset": "ABC"},
            }
        )
    )
    body = checked(generated, "vouchers", "VouchersCreateResponseBody")
    assert body["code"].startswith("GEN-") and len(body["code"]) == 10
    with pytest.raises(NotFoundException):
        sdk.vouchers.get_voucher(uid("missing"))


def test_validate_stacked_vouchers_on_a_new_and_a_stored_order(sdk: Sdk) -> None:
    items_code, percent_code = uid("ITEMS"), uid("PCT")
    sdk.create(items_code, {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ITEMS"})
    sdk.create(percent_code, {"type": "PERCENT", "percent_off": 40})
    redeemables = [
        {"object": "voucher", "id": items_code},
        {"object": "voucher", "id": percent_code},
    ]
    items = [
        {"source_id": uid("a"), "price": 2000, "quantity": 1},
        {"source_id": uid("b"), "price": 700, "quantity": 1},
    ]
    result = sdk.validate({"redeemables": redeemables, "order": {"items": items}})
    assert result["valid"] is True
    assert result["order"]["items_discount_amount"] == 1700
    assert result["order"]["discount_amount"] == 400
    assert result["order"]["total_amount"] == 600
    # A stored order: computed on, not changed.
    source_id = uid("order")
    sdk.orders.create_order(OrdersCreateRequestBody(source_id=source_id, amount=10000))
    stored = sdk.validate({"redeemables": [redeemables[1]], "order": {"source_id": source_id}})
    assert stored["order"]["applied_discount_amount"] == 4000
    order = sdk.orders.get_order(source_id)
    assert order.discount_amount == 0 and order.total_amount == 10000


def test_an_unknown_code_makes_the_validation_invalid(sdk: Sdk) -> None:
    missing = uid("NOPE")
    result = sdk.validate(
        {"redeemables": [{"object": "voucher", "id": missing}], "order": {"amount": 1000}}
    )
    assert result["valid"] is False
    error = result["redeemables"][0]["result"]["error"]
    assert error["key"] == "not_found" and missing in error["details"]
