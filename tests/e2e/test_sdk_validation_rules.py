"""The official Python SDK (``voucherify`` 6.1.1) against a real ``tally serve``, on both
engines: validation rules made and assigned through the SDK decide which orders a voucher
applies to (a minimum cart amount, a product in the cart, customers with fewer than 3
orders in 30 days), as validations and redemptions made through the SDK report."""

from __future__ import annotations

from typing import Any

import pytest
from voucherify.api.validation_rules_api import ValidationRulesApi
from voucherify.api_client import ApiClient
from voucherify.configuration import Configuration
from voucherify.models.orders_create_request_body import OrdersCreateRequestBody
from voucherify.models.validation_rules_assignments_create_request_body import (
    ValidationRulesAssignmentsCreateRequestBody,
)
from voucherify.models.validation_rules_create_request_body import (
    ValidationRulesCreateRequestBody,
)

from support.server import LiveServer

from .test_sdk_vouchers import Sdk, checked, uid


class RulesSdk(Sdk):
    def __init__(self, server: LiveServer) -> None:
        super().__init__(server)
        config = Configuration(
            host=server.base_url,
            api_key={"X-App-Id": server.app_id, "X-App-Token": server.app_token},
        )
        self.rules = ValidationRulesApi(ApiClient(config))

    def rule(self, voucher_id: str, name: str, rules: dict[str, Any]) -> dict[str, Any]:
        body = ValidationRulesCreateRequestBody.from_dict({"name": name, "rules": rules})
        created = checked(
            self.rules.create_validation_rules_with_http_info(body),
            "validation-rules",
            "ValidationRulesCreateResponseBody",
        )
        assignment = ValidationRulesAssignmentsCreateRequestBody.from_dict(
            {"related_object_type": "voucher", "related_object_id": voucher_id}
        )
        checked(
            self.rules.create_validation_rule_assignment_with_http_info(
                created["id"], validation_rules_assignments_create_request_body=assignment
            ),
            "validation-rules",
            "ValidationRulesAssignmentsCreateResponseBody",
        )
        return created

    def paid_order(self, customer: dict[str, Any]) -> None:
        body = OrdersCreateRequestBody.from_dict(
            {"amount": 1500, "status": "PAID", "customer": customer}
        )
        checked(self.orders.create_order_with_http_info(body), "orders", "OrdersCreateResponseBody")

    def applies(self, code: str, order: dict[str, Any], **extra: Any) -> bool:
        body = {"redeemables": [{"object": "voucher", "id": code}], "order": order, **extra}
        result = self.validate(body)
        status = result["redeemables"][0]["status"]
        if status == "INAPPLICABLE":
            assert result["redeemables"][0]["result"]["error"]["key"] == "redemption_rules_violated"
        return bool(result["valid"])


@pytest.fixture
def sdk(live_server: LiveServer) -> RulesSdk:
    return RulesSdk(live_server)


def _one(
    name: str, conditions: dict[str, Any], rules: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"1": {"name": name, "conditions": conditions, "rules": rules or {}}, "logic": "1"}


def test_minimum_cart_amount(sdk: RulesSdk) -> None:
    code = uid("MIN")
    voucher = sdk.create(code, {"type": "AMOUNT", "amount_off": 500})
    sdk.rule(voucher["id"], uid("min-cart"), _one("order.amount", {"$more_than_or_equal": [5000]}))
    assert not sdk.applies(code, {"amount": 4999})
    assert sdk.applies(code, {"amount": 5000})


def test_a_product_in_the_cart(sdk: RulesSdk) -> None:
    code = uid("MUG")
    voucher = sdk.create(code, {"type": "AMOUNT", "amount_off": 100})
    product = uid("mug")
    sdk.rule(
        voucher["id"],
        uid("has-mug"),
        _one("order.items.any", {"$is": [{"object": "product", "source_id": product}]}),
    )
    line = {"related_object": "product", "price": 1200, "quantity": 1}
    assert sdk.applies(code, {"items": [{**line, "source_id": product}]})
    assert not sdk.applies(code, {"items": [{**line, "source_id": uid("hat")}]})


def test_customers_with_fewer_than_3_orders_in_30_days(sdk: RulesSdk) -> None:
    code = uid("NEW")
    voucher = sdk.create(code, {"type": "AMOUNT", "amount_off": 100})
    window = _one("x.customer.orders.created_at", {"$less_than_ago": [30]})
    sdk.rule(
        voucher["id"],
        uid("newcomers"),
        _one("x.customer.orders.count", {"$less_than": [3]}, rules=window),
    )
    customer = {"source_id": uid("cust")}
    order = {"amount": 2000, "customer": customer}
    for _ in range(2):
        sdk.paid_order(customer)
    assert sdk.applies(code, order, customer=customer)
    sdk.paid_order(customer)
    assert not sdk.applies(code, order, customer=customer)
