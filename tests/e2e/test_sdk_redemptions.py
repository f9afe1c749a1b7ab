"""The official Python SDK (``voucherify`` 6.1.1) against a real ``tally serve``: stacked and
single redemptions, redeeming again on one order, validation, rollbacks (single, stacked,
with a status in the body), failed redemptions that save the order without discounts,
listing.
The SDK must parse every response into its models; the raw bytes are checked against the
official schemas. On SQLite and on PostgreSQL (``live_server`` runs both)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from voucherify.api.orders_api import OrdersApi
from voucherify.api.redemptions_api import RedemptionsApi
from voucherify.api_client import ApiClient
from voucherify.configuration import Configuration
from voucherify.exceptions import BadRequestException
from voucherify.models.orders_create_request_body import OrdersCreateRequestBody
from voucherify.models.parameter_filters_list_redemptions import ParameterFiltersListRedemptions
from voucherify.models.redemptions_redeem_request_body import RedemptionsRedeemRequestBody
from voucherify.models.redemptions_rollback_create_request_body import (
    RedemptionsRollbackCreateRequestBody,
)

from support.server import LiveServer

from .test_sdk_vouchers import Sdk, checked, uid


class RedeemingSdk(Sdk):
    def __init__(self, server: LiveServer) -> None:
        super().__init__(server)
        config = Configuration(
            host=server.base_url,
            api_key={"X-App-Id": server.app_id, "X-App-Token": server.app_token},
        )
        client = ApiClient(config)
        self.redemptions = RedemptionsApi(client)
        self.orders = OrdersApi(client)

    def redeem(self, body: dict[str, Any]) -> dict[str, Any]:
        request = RedemptionsRedeemRequestBody.from_dict(body)
        response = self.redemptions.redeem_stacked_discounts_with_http_info(request)
        return checked(response, "redemptions", "RedemptionsRedeemResponseBody")

    def refused(self, body: dict[str, Any]) -> dict[str, Any]:
        request = RedemptionsRedeemRequestBody.from_dict(body)
        with pytest.raises(BadRequestException) as caught:
            self.redemptions.redeem_stacked_discounts(request)
        error: dict[str, Any] = json.loads(caught.value.body)
        return error

    def order(self, order_id: str) -> dict[str, Any]:
        return checked(
            self.orders.get_order_with_http_info(order_id), "orders", "OrdersGetResponseBody"
        )


@pytest.fixture
def sdk(live_server: LiveServer) -> RedeemingSdk:
    return RedeemingSdk(live_server)


def _vouchers(*codes: str) -> list[dict[str, str]]:
    return [{"object": "voucher", "id": code} for code in codes]


def _items() -> list[dict[str, Any]]:
    return [
        {"source_id": uid("a"), "price": 2000, "quantity": 1},
        {"source_id": uid("b"), "price": 700, "quantity": 1},
    ]


def test_redeem_stacked_then_again_then_roll_back(sdk: RedeemingSdk) -> None:
    items_code, percent_code, amount_code = uid("ITEMS"), uid("PCT"), uid("AMT")
    sdk.create(items_code, {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ITEMS"})
    sdk.create(percent_code, {"type": "PERCENT", "percent_off": 40})
    sdk.create(amount_code, {"type": "AMOUNT", "amount_off": 30})
    customer = uid("alice")
    body = {
        "redeemables": _vouchers(items_code, percent_code),
        "order": {"items": _items()},
        "customer": {"source_id": customer},
    }
    validated = sdk.validate(body)
    assert validated["valid"] is True
    stacked = sdk.redeem(body)
    order = stacked["order"]
    assert (order["status"], order["total_amount"]) == ("PAID", 600)
    assert order["total_discount_amount"] == validated["order"]["total_discount_amount"]
    parsed = sdk.redemptions.redeem_stacked_discounts(
        RedemptionsRedeemRequestBody.from_dict(
            {"redeemables": _vouchers(amount_code), "order": {"id": order["id"]}}
        )
    )
    assert parsed.order is not None and parsed.order.id == order["id"]
    assert parsed.order.applied_discount_amount == 30
    assert parsed.order.total_amount == 570
    again_id = parsed.redemptions[0].id

    # Roll back the later, lone redemption with a status in the body; then the stacked one.
    single = sdk.redemptions.rollback_redemption_with_http_info(
        again_id,
        reason="mistake",
        redemptions_rollback_create_request_body=RedemptionsRollbackCreateRequestBody.from_dict(
            {"order": {"status": "PAID"}}
        ),
    )
    rolled = checked(single, "redemptions", "RedemptionsRollbackCreateResponseBody")
    assert rolled["reason"] == "mistake"
    assert (rolled["order"]["status"], rolled["order"]["total_amount"]) == ("PAID", 600)
    parent_id = stacked["parent_redemption"]["id"]
    whole = sdk.redemptions.rollback_stacked_redemptions_with_http_info(parent_id)
    result = checked(whole, "redemptions", "RedemptionsRollbacksCreateResponseBody")
    assert result["order"]["status"] == "CANCELED"
    assert result["order"]["total_amount"] == 2700
    assert len(result["rollbacks"]) == 2
    stored = sdk.order(order["id"])
    assert stored["redemptions"][parent_id]["rollback_id"] == result["parent_rollback"]["id"]
    assert stored["redemptions"][again_id]["rollback_id"] == rolled["id"]

    fetched = sdk.redemptions.get_redemption_with_http_info(parent_id)
    assert checked(fetched, "redemptions", "RedemptionsGetResponseBody")["status"] == "ROLLED_BACK"
    listed = sdk.redemptions.list_redemptions_with_http_info(
        customer=customer,
        filters=ParameterFiltersListRedemptions.from_dict(
            {"object": {"conditions": {"$is": "redemption"}}}
        ),
    )
    page = checked(listed, "redemptions", "RedemptionsListResponseBody")
    # The parent, its two children, and the later one: the order's customer redeemed it.
    assert page["total"] == 4
    with pytest.raises(BadRequestException) as again:
        sdk.redemptions.rollback_stacked_redemptions(parent_id)
    assert json.loads(again.value.body)["key"] == "already_rolled_back"


@pytest.mark.parametrize("why", ["unknown", "expired", "used_up", "inapplicable"])
def test_a_failed_redemption_saves_the_order_without_discounts(sdk: RedeemingSdk, why: str) -> None:
    good, bad = uid("GOOD"), uid("BAD")
    sdk.create(good, {"type": "AMOUNT", "amount_off": 100})
    if why == "expired":
        sdk.create(bad, {"type": "AMOUNT", "amount_off": 100}, expiration_date="2020-01-01")
    elif why == "used_up":
        sdk.create(bad, {"type": "AMOUNT", "amount_off": 100}, redemption={"quantity": 1})
        sdk.redeem({"redeemables": _vouchers(bad), "order": {"amount": 500}})
    elif why == "inapplicable":
        # An item discount on an order that has no items.
        sdk.create(bad, {"type": "AMOUNT", "amount_off": 100, "effect": "APPLY_TO_ITEMS"})
    created = sdk.orders.create_order_with_http_info(
        OrdersCreateRequestBody.from_dict({"source_id": uid("o"), "amount": 1000})
    )
    before = checked(created, "orders", "OrdersCreateResponseBody")
    error = sdk.refused(
        {"redeemables": _vouchers(good, bad), "order": {"id": before["id"], "status": "PAID"}}
    )
    expected = {
        "unknown": "not_found",
        "expired": "voucher_expired",
        "used_up": "quantity_exceeded",
        "inapplicable": "missing_order_items",
    }[why]
    assert error["key"] == expected
    assert error["resource_id"].startswith("rf_")
    # The order is upserted from the payload, status and all, without discounts (BEHAVIOR
    # 6.5, 8.7).
    after = sdk.order(before["id"])
    assert (after["status"], after["discount_amount"], after["total_amount"]) == ("PAID", 0, 1000)
    assert {k: v for k, v in after.items() if k not in ("status", "updated_at")} == {
        k: v for k, v in before.items() if k not in ("status", "updated_at")
    }
    failed = sdk.redemptions.get_redemption(error["resource_id"])
    assert (failed.result, failed.failure_code) == (
        "FAILURE",
        error["key"].replace("not_found", "resource_not_found"),
    )
    voucher = sdk.vouchers.get_voucher(good)
    assert voucher.redemption is not None and voucher.redemption.redeemed_quantity == 0


def test_free_units_through_the_sdk(sdk: RedeemingSdk, live_server: LiveServer) -> None:
    with live_server.client() as http:
        tee = http.post(
            "/v1/products", json={"source_id": uid("tee"), "name": "T-shirt", "price": 2500}
        ).json()["id"]
    code = uid("UNIT")
    created = sdk.create(
        code, {"type": "UNIT", "unit_off": 1, "unit_type": tee, "effect": "ADD_NEW_ITEMS"}
    )
    assert created["discount"]["product"]["id"] == tee
    parsed = sdk.redemptions.redeem_stacked_discounts(
        RedemptionsRedeemRequestBody.from_dict(
            {
                "redeemables": _vouchers(code),
                "order": {"items": [{"product_id": tee, "quantity": 1, "price": 2500}]},
            }
        )
    )
    assert parsed.order is not None and parsed.order.items is not None
    (line,) = parsed.order.items
    assert (line.quantity, line.amount, line.discount_amount) == (2, 5000, 2500)
    assert parsed.order.total_amount == 2500
