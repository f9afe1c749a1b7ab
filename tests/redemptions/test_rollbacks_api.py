"""Rollbacks: the order loses exactly the discounts of what is rolled back, vouchers get
their uses back, the redemptions map records it; the spec's errors for every wrong call."""

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from support.db import snapshot
from support.inprocess import AppClient
from support.spec import assert_matches

from .test_redemptions_api import LINES, order_of, redeem, voucher, vouchers


def rollback(client: AppClient, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post(url, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    schema = (
        "RedemptionsRollbacksCreateResponseBody"
        if url.endswith("/rollbacks")
        else "RedemptionsRollbackCreateResponseBody"
    )
    assert_matches(result, file="redemptions", schema=schema)
    return result


def error_of(client: AppClient, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    before = snapshot(client.db)
    response = client.post(url, json=body)
    assert response.status_code in (400, 404), response.text
    assert snapshot(client.db) == before
    error: dict[str, Any] = response.json()
    return error


def stacked_order(client: AppClient) -> dict[str, Any]:
    voucher(client, "ITEMS", {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ITEMS"})
    voucher(client, "FORTY", {"type": "PERCENT", "percent_off": 40})
    voucher(client, "THIRTY", {"type": "AMOUNT", "amount_off": 30})
    return redeem(
        client,
        {
            "redeemables": vouchers("ITEMS", "FORTY", "THIRTY"),
            "order": {"items": LINES},
            "customer": {"source_id": "alice"},
        },
    )


def test_stacked_rollback_gives_everything_back(client: AppClient) -> None:
    redeemed = stacked_order(client)
    parent_id = redeemed["parent_redemption"]["id"]
    result = rollback(client, f"/v1/redemptions/{parent_id}/rollbacks", {"reason": "returned"})
    order = result["order"]
    assert order["status"] == "CANCELED"
    assert (order["discount_amount"], order["items_discount_amount"]) == (0, 0)
    assert order["total_amount"] == order["amount"] == 2700
    assert [i["discount_amount"] for i in order["items"]] == [0, 0]
    parent = result["parent_rollback"]
    assert parent["id"].startswith("rr_")
    assert parent["redemption"] == parent_id
    assert parent["reason"] == "returned"
    children = [c["id"] for c in redeemed["redemptions"]]
    assert [r["redemption"] for r in result["rollbacks"]] == children
    entry = order["redemptions"][parent_id]
    assert entry["rollback_id"] == parent["id"]
    assert entry["rollback_date"] == parent["date"]
    assert entry["rollback_stacked"] == [r["id"] for r in result["rollbacks"]]
    assert entry["stacked"] == children
    for code in ("ITEMS", "FORTY", "THIRTY"):
        assert client.get(f"/v1/vouchers/{code}").json()["redemption"]["redeemed_quantity"] == 0
    for redemption_id in [parent_id, *children]:
        got = client.get(f"/v1/redemptions/{redemption_id}").json()
        assert (got["result"], got["status"]) == ("SUCCESS", "ROLLED_BACK")
    got = client.get(f"/v1/redemptions/{parent['id']}").json()
    assert_matches(got, file="redemptions", schema="RedemptionsGetResponseBody")
    assert got["object"] == "redemption_rollback"
    stored = order_of(client, order["id"])
    assert stored["status"] == "CANCELED" and stored["total_amount"] == 2700
    customer = client.get(f"/v1/customers/{order['customer_id']}").json()
    assert customer["summary"]["orders"]["total_count"] == 0  # a canceled order does not count


def test_rollback_of_one_request_keeps_the_others_discounts(client: AppClient) -> None:
    """Two requests on one order: rolling back the second leaves the first's discounts, and
    the body's status replaces CANCELED."""
    voucher(client, "FIRST", {"type": "AMOUNT", "amount_off": 500, "effect": "APPLY_TO_ITEMS"})
    voucher(client, "SECOND", {"type": "PERCENT", "percent_off": 10})
    first = redeem(client, {"redeemables": vouchers("FIRST"), "order": {"items": LINES}})
    order_id = first["order"]["id"]
    second = redeem(client, {"redeemables": vouchers("SECOND"), "order": {"id": order_id}})
    assert second["order"]["discount_amount"] == 170  # 10 % of 2700 - 1000
    lone = second["redemptions"][0]["id"]
    result = rollback(client, f"/v1/redemptions/{lone}/rollback", {"order": {"status": "PAID"}})
    assert result["object"] == "redemption_rollback"
    assert result["redemption"] == lone
    order = result["order"]
    assert order["status"] == "PAID"
    assert (order["discount_amount"], order["items_discount_amount"]) == (0, 1000)
    assert order["total_amount"] == 1700
    assert order["redemptions"][lone]["rollback_id"] == result["id"]
    assert "rollback_id" not in order["redemptions"][first["redemptions"][0]["id"]]


def test_the_plural_endpoint_takes_a_lone_redemption(client: AppClient) -> None:
    voucher(client, "LONE", {"type": "AMOUNT", "amount_off": 100})
    redeemed = redeem(client, {"redeemables": vouchers("LONE"), "order": {"amount": 1000}})
    lone = redeemed["redemptions"][0]["id"]
    result = rollback(client, f"/v1/redemptions/{lone}/rollbacks")
    assert "parent_rollback" not in result
    assert [r["redemption"] for r in result["rollbacks"]] == [lone]
    assert result["order"]["total_amount"] == 1000


def test_wrong_rollbacks_get_the_specs_errors(client: AppClient) -> None:
    redeemed = stacked_order(client)
    parent_id = redeemed["parent_redemption"]["id"]
    child_id = redeemed["redemptions"][0]["id"]
    error = error_of(client, f"/v1/redemptions/{parent_id}/rollback")
    assert error["key"] == "invalid_redemption"
    for url in (f"/v1/redemptions/{child_id}/rollback", f"/v1/redemptions/{child_id}/rollbacks"):
        assert error_of(client, url)["key"] == "invalid_redemption_parent"
    missing = error_of(client, "/v1/redemptions/r_missing/rollback")
    assert (missing["code"], missing["key"], missing["resource_type"]) == (
        404,
        "not_found",
        "redemption",
    )
    other_order = client.post("/v1/orders", json={"amount": 1}).json()
    wrong_order = error_of(
        client, f"/v1/redemptions/{parent_id}/rollbacks", {"order": {"id": other_order["id"]}}
    )
    assert wrong_order["key"] == "invalid_order"
    wrong_customer = error_of(
        client, f"/v1/redemptions/{parent_id}/rollbacks", {"customer": {"source_id": "bob"}}
    )
    assert wrong_customer["key"] == "invalid_customer"

    rollback(client, f"/v1/redemptions/{parent_id}/rollbacks")
    order_before = order_of(client, redeemed["order"]["id"])
    response = client.post(f"/v1/redemptions/{parent_id}/rollbacks")
    assert response.status_code == 400
    again = response.json()
    assert again["key"] == "already_rolled_back"
    assert (again["resource_type"], again["resource_id"][:4]) == ("redemption_rollback", "rrf_")
    assert order_of(client, redeemed["order"]["id"]) == order_before
    failed = client.get(f"/v1/redemptions/{again['resource_id']}").json()
    assert (failed["result"], failed["status"]) == ("FAILURE", "FAILED")
    assert failed["failure_code"] == "already_rolled_back"


def test_a_failed_redemption_cannot_be_rolled_back(client: AppClient) -> None:
    response = client.post("/v1/redemptions", json={"redeemables": vouchers("NOPE")})
    failed_id = response.json()["resource_id"]
    assert error_of(client, f"/v1/redemptions/{failed_id}/rollback")["key"] == "invalid_redemption"


def test_old_redemptions_cannot_be_rolled_back(client: AppClient) -> None:
    voucher(client, "OLD", {"type": "AMOUNT", "amount_off": 1})
    redeemed = redeem(client, {"redeemables": vouchers("OLD"), "order": {"amount": 10}})
    lone = redeemed["redemptions"][0]
    from tally.clock import parse_datetime
    from tally.redemptions.tables import redemptions

    long_ago = parse_datetime(lone["date"]) - timedelta(days=93)
    with client.db.transaction(write=True) as conn:
        conn.execute(
            sa.update(redemptions).where(redemptions.c.id == lone["id"]).values(created_at=long_ago)
        )
    error = error_of(client, f"/v1/redemptions/{lone['id']}/rollback")
    assert error["key"] == "invalid_redemption"
    assert "3 months" in error["details"]


def test_rollback_after_the_lines_changed(client: AppClient) -> None:
    """A line replaced since keeps nothing to give back; the others lose exactly theirs."""
    voucher(client, "PER", {"type": "AMOUNT", "amount_off": 300, "effect": "APPLY_TO_ITEMS"})
    redeemed = redeem(client, {"redeemables": vouchers("PER"), "order": {"items": LINES}})
    order_id = redeemed["order"]["id"]
    changed = client.put(
        f"/v1/orders/{order_id}",
        json={"items": [LINES[0], {"source_id": "c", "price": 900, "quantity": 1}]},
    ).json()
    assert [i["discount_amount"] for i in changed["items"]] == [300, 0]
    assert changed["items"][0]["id"] == redeemed["order"]["items"][0]["id"]  # the line goes on
    lone = redeemed["redemptions"][0]["id"]
    order = rollback(client, f"/v1/redemptions/{lone}/rollback")["order"]
    assert [i["discount_amount"] for i in order["items"]] == [0, 0]
    assert order["total_amount"] == order["amount"] == 2900


def test_listing_redemptions_with_filters(client: AppClient) -> None:
    redeemed = stacked_order(client)
    parent_id = redeemed["parent_redemption"]["id"]
    client.post("/v1/redemptions", json={"redeemables": vouchers("NOPE")})
    rollback(client, f"/v1/redemptions/{parent_id}/rollbacks")

    def listed(query: str) -> dict[str, Any]:
        response = client.get(f"/v1/redemptions{query}")
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        assert_matches(page, file="redemptions", schema="RedemptionsListResponseBody")
        return page

    everything = listed("?limit=100")
    assert everything["total"] == 4 + 1 + 4  # stacked, failed, rollbacks
    dates = [r["date"] for r in everything["redemptions"]]
    assert dates == sorted(dates, reverse=True)
    assert listed("?result=FAILURE")["total"] == 1
    assert listed("?filters[object][conditions][$is]=redemption_rollback")["total"] == 4
    assert listed(f"?filters[parent_redemption_id][conditions][$is]={parent_id}")["total"] == 3
    assert listed("?filters[voucher_code][conditions][$in]=ITEMS,FORTY")["total"] == 4
    assert listed("?filters[voucher_code][conditions][$starts_with]=IT")["total"] == 2
    assert listed("?filters[failure_code][conditions][$has_value]=")["total"] == 1
    either = "?filters[junction]=or&filters[result][conditions][$is]=FAILURE"
    assert listed(either + "&filters[voucher_code][conditions][$is]=THIRTY")["total"] == 3
    # The official SDK sends unset conditions as the text "None": they are ignored.
    assert listed("?filters[result]=None&filters[object][conditions][$in]=None")["total"] == 9
    assert listed("?customer=alice")["total"] == 8
    assert listed("?customer=nobody")["total"] == 0
    assert listed("?created_at[before]=2000-01-01")["total"] == 0
    page = listed("?limit=2&page=2&order=id")
    ids = sorted(r["id"] for r in everything["redemptions"])
    assert [r["id"] for r in page["redemptions"]] == ids[2:4]
    bad = client.get("/v1/redemptions?filters[secret][conditions][$is]=x")
    assert (bad.status_code, bad.json()["key"]) == (400, "invalid_query_params")
    other = client.as_project(client.new_project("other"))
    assert other.get("/v1/redemptions").json()["total"] == 0


def test_rolling_back_added_units_keeps_the_units_the_client_sent_since(
    client: AppClient,
) -> None:
    """A free unit added by R1, then the cart sent again as it was (R2's upsert, or a PUT):
    the line holds what the client pays for. Rolling R1 back takes its discount, and no
    unit the client sent (it took the paid tee, 1,000, with it)."""
    tee = client.post("/v1/products", json={"source_id": "tee", "name": "Tee", "price": 1000})
    unit = {"type": "UNIT", "unit_off": 1, "unit_type": tee.json()["id"], "effect": "ADD_NEW_ITEMS"}
    voucher(client, "FREE1", unit)
    voucher(client, "TEN", {"type": "AMOUNT", "amount_off": 10})
    cart = [
        {"product_id": tee.json()["id"], "quantity": 1, "price": 1000},
        {"source_id": "mug", "quantity": 1, "price": 500},
    ]
    first = redeem(client, {"redeemables": vouchers("FREE1"), "order": {"items": cart}})
    order_id = first["order"]["id"]
    assert [i["quantity"] for i in first["order"]["items"]] == [2, 1]
    redeem(client, {"redeemables": vouchers("TEN"), "order": {"id": order_id, "items": cart}})
    lone = first["redemptions"][0]["id"]
    order = rollback(client, f"/v1/redemptions/{lone}/rollback", {"order": {"status": "PAID"}})[
        "order"
    ]
    assert [(i["quantity"], i["amount"], i["discount_amount"]) for i in order["items"]] == [
        (1, 1000, 0),
        (1, 500, 0),
    ]
    assert (order["amount"], order["discount_amount"], order["total_amount"]) == (1500, 10, 1490)
    # Without the cart sent again, the added unit goes with the rollback, as before.
    again = redeem(client, {"redeemables": vouchers("FREE1"), "order": {"items": cart}})
    back = rollback(client, f"/v1/redemptions/{again['redemptions'][0]['id']}/rollback")
    assert [i["quantity"] for i in back["order"]["items"]] == [1, 1]
    assert back["order"]["amount"] == 1500


def test_rolling_back_keeps_a_later_redemption_s_discount_after_a_cap(client: AppClient) -> None:
    """R1 800 off 1,000; the amount lowered to 500 caps the stored discount at 500, then
    raised again; R2 300 off. Rolling R1 back leaves R2's 300 (it took all 800)."""
    voucher(client, "EIGHT", {"type": "AMOUNT", "amount_off": 800})
    voucher(client, "THREE", {"type": "AMOUNT", "amount_off": 300})
    first = redeem(client, {"redeemables": vouchers("EIGHT"), "order": {"amount": 1000}})
    order_id = first["order"]["id"]
    for amount in (500, 1000):
        assert client.put(f"/v1/orders/{order_id}", json={"amount": amount}).status_code == 200
    second = redeem(client, {"redeemables": vouchers("THREE"), "order": {"id": order_id}})
    assert second["order"]["discount_amount"] == 800
    lone = first["redemptions"][0]["id"]
    order = rollback(client, f"/v1/redemptions/{lone}/rollback", {"order": {"status": "PAID"}})[
        "order"
    ]
    assert (order["discount_amount"], order["total_amount"]) == (300, 700)
    # And R2's own rollback then leaves nothing.
    last = rollback(client, f"/v1/redemptions/{second['redemptions'][0]['id']}/rollback")
    assert (last["order"]["discount_amount"], last["order"]["total_amount"]) == (0, 1000)


def test_rolling_back_keeps_a_later_redemption_s_line_discount_after_a_cap(
    client: AppClient,
) -> None:
    """The same on a line: R1 1,000 off the item; its price lowered to 500 (the line's
    discount capped at 500), then raised; R2 300 off. Rolling R1 back leaves R2's 300."""
    voucher(client, "I1000", {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ITEMS"})
    voucher(client, "I300", {"type": "AMOUNT", "amount_off": 300, "effect": "APPLY_TO_ITEMS"})
    line = {"source_id": "a", "quantity": 1}
    first = redeem(
        client,
        {"redeemables": vouchers("I1000"), "order": {"items": [{**line, "price": 2000}]}},
    )
    order_id = first["order"]["id"]
    for price in (500, 2000):
        body = {"items": [{**line, "price": price}]}
        assert client.put(f"/v1/orders/{order_id}", json=body).status_code == 200
    second = redeem(client, {"redeemables": vouchers("I300"), "order": {"id": order_id}})
    assert second["order"]["items_discount_amount"] == 800
    lone = first["redemptions"][0]["id"]
    order = rollback(client, f"/v1/redemptions/{lone}/rollback", {"order": {"status": "PAID"}})[
        "order"
    ]
    assert [i["discount_amount"] for i in order["items"]] == [300]
    assert (order["items_discount_amount"], order["total_amount"]) == (300, 1700)
    last = rollback(client, f"/v1/redemptions/{second['redemptions'][0]['id']}/rollback")
    assert (last["order"]["items_discount_amount"], last["order"]["total_amount"]) == (0, 2000)
