"""Validation rules through the API on both engines: the spec's example documents saved
and printed back, malformed ones refused saying what is wrong, assignments, and rules
evaluated in validations and redemptions (BEHAVIOR 16). A delete racing an assignment is
driven through the service, two transactions at once (PostgreSQL)."""

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from support.db import snapshot
from support.inprocess import AppClient
from support.spec import assert_matches
from tally.errors import TallyError
from tally.validation_rules import service
from tally.validation_rules.schemas import AssignmentCreate

CART_RULE = {
    "name": "Cart over $100 and at least 2 items",
    "rules": {
        "1": {"name": "order.amount", "conditions": {"$more_than_or_equal": [10000]}, "rules": {}},
        "2": {"name": "order.items.count", "conditions": {"$more_than_or_equal": [2]}, "rules": {}},
        "logic": "1 and 2",
    },
    "error": {"message": "Spend $100 on 2+ items"},
}
MUG_RULE = {
    "name": "2+ mugs in the cart",
    "rules": {
        "1": {
            "name": "order.items.any",
            "conditions": {"$is": [{"object": "product", "source_id": "mug"}]},
            "rules": {
                "1": {
                    "name": "order.items.quantity",
                    "conditions": {"$more_than_or_equal": [2]},
                    "rules": {},
                },
                "logic": "1",
            },
        },
        "logic": "1",
    },
}
FEW_ORDERS_RULE = {
    "name": "fewer than 3 paid orders in 30 days",
    "rules": {
        "1": {
            "name": "x.customer.orders.count",
            "conditions": {"$less_than": [3]},
            "rules": {
                "1": {
                    "name": "x.customer.orders.created_at",
                    "conditions": {"$less_than_ago": [30]},
                    "rules": {},
                },
                "logic": "1",
            },
            "error": {"message": "For new customers only"},
        },
        "logic": "1",
    },
}


def _rule(client: AppClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/validation-rules", json=body)
    assert response.status_code == 200, response.text
    rule: dict[str, Any] = response.json()
    assert_matches(rule, "validation-rules", "ValidationRule")
    return rule


def _voucher(client: AppClient, code: str, **extra: Any) -> dict[str, Any]:
    body = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}}
    response = client.post(f"/v1/vouchers/{code}", json={**body, **extra})
    assert response.status_code == 200, response.text
    voucher: dict[str, Any] = response.json()
    return voucher


def _assign(client: AppClient, rule_id: str, body: dict[str, Any], **params: Any) -> Any:
    return client.post(f"/v1/validation-rules/{rule_id}/assignments", json=body, params=params)


def _validate(client: AppClient, code: str, order: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"redeemables": [{"object": "voucher", "id": code}], "order": order, **extra}
    response = client.post("/v1/validations", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


LINES = [
    {"source_id": "mug", "related_object": "product", "price": 1500, "quantity": 2},
    {"source_id": "cap", "related_object": "product", "price": 8000, "quantity": 1},
]


def test_rules_are_saved_printed_listed_changed_and_deleted(client: AppClient) -> None:
    rule = _rule(client, CART_RULE)
    assert rule["id"].startswith("val_")
    assert rule["rules"]["1"] == {
        "name": "order.amount",
        "property": None,
        "conditions": {"$more_than_or_equal": [10000]},
        "rules": {"logic": ""},
    }
    assert rule["rules"]["logic"] == "1 and 2"
    assert rule["error"] == {"message": "Spend $100 on 2+ items"}
    assert (rule["type"], rule["context_type"], rule["assignments_count"]) == (
        "expression",
        "global",
        0,
    )
    assert rule["applicable_to"] == {"excluded": [], "included": [], "included_all": False}
    assert "updated_at" not in rule
    assert client.get(f"/v1/validation-rules/{rule['id']}").json() == rule
    _rule(client, MUG_RULE)
    listed = client.get("/v1/validation-rules", params={"order": "name"}).json()
    assert_matches(listed, "validation-rules", "ValidationRulesListResponseBody")
    assert [r["name"] for r in listed["data"]] == [MUG_RULE["name"], CART_RULE["name"]]
    assert listed["total"] == 2
    changed = client.put(
        f"/v1/validation-rules/{rule['id']}", json={"name": "renamed", "error": None}
    ).json()
    assert (changed["name"], "error" in changed, "updated_at" in changed) == (
        "renamed",
        False,
        True,
    )
    assert changed["rules"] == rule["rules"]
    assert client.delete(f"/v1/validation-rules/{rule['id']}").status_code == 204
    gone = client.get(f"/v1/validation-rules/{rule['id']}")
    assert (gone.status_code, gone.json()["resource_type"]) == (404, "validation_rules")


def test_malformed_and_unbuilt_rules_are_refused_saying_why(client: AppClient) -> None:
    cases = [
        (
            {"name": "x", "rules": {"1": {"name": "order.metadata", "conditions": {"$is": ["a"]}}}},
            "property is required",
        ),
        (
            {
                "name": "x",
                "rules": {
                    "1": {"name": "order.amount", "conditions": {"$greater_than_or_equal": [1]}}
                },
            },
            "'$greater_than_or_equal' is not a condition",
        ),
        (
            {
                "name": "x",
                "rules": {
                    "1": {"name": "order.amount", "conditions": {"$is": [1]}},
                    "logic": "(1 and 2",
                },
            },
            "rules.logic",
        ),
        (
            {
                "name": "x",
                "rules": {"1": {"name": "customer.segment", "conditions": {"$is": ["seg_1"]}}},
            },
            "not a rule Tally evaluates",
        ),
        ({"name": "x", "bundle_rules": {"1": {"name": "order.items.any"}}}, "bundle_rules"),
        (
            {
                "name": "x",
                "rules": {
                    "1": {
                        "name": "x.customer.orders.count",
                        "conditions": {"$more_than": [0]},
                        "rules": {
                            "1": {
                                "name": "x.customer.orders.created_at",
                                "conditions": {"$after": ["0001-01-01T00:00:00+05:00"]},
                            }
                        },
                    }
                },
            },
            "out of range",
        ),
    ]
    for body, says in cases:
        response = client.post("/v1/validation-rules", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["key"] == "invalid_validation_rules"
        assert says in response.json()["details"], response.json()["details"]
    assert client.get("/v1/validation-rules").json()["total"] == 0
    _rule(client, CART_RULE)
    again = client.post("/v1/validation-rules", json=CART_RULE)
    assert (again.status_code, again.json()["key"]) == (409, "duplicate_found")


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def test_unstorable_bodies_are_refused_before_anything_is_written(client: AppClient) -> None:
    rule = _rule(client, CART_RULE)
    _voucher(client, "STORABLE")
    on_metadata = {"name": "order.metadata", "property": "p", "conditions": {"$is": ["a\u0000"]}}
    over_64_bits = {"name": "order.amount", "conditions": {"$is": [2**64]}}
    cases = [
        ("POST", "/v1/validation-rules", {"name": "nul", "rules": {"1": on_metadata}}),
        ("POST", "/v1/validation-rules", {"name": "big", "rules": {"1": over_64_bits}}),
        ("POST", "/v1/validation-rules", {"name": "deep", "bundle_rules": _nested(40)}),
        ("PUT", f"/v1/validation-rules/{rule['id']}", {"error": {"message": "\u0000"}}),
        ("PUT", f"/v1/validation-rules/{rule['id']}", {"rules": {"1": over_64_bits}}),
        ("POST", f"/v1/validation-rules/{rule['id']}/assignments", {"voucher": "STORABLE\u0000"}),
    ]
    before = snapshot(client.db)
    for method, path, body in cases:
        response = client.request(method, path, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["key"] == "invalid_payload", response.text
    assert snapshot(client.db) == before


def test_assignments_are_made_listed_replaced_and_removed(client: AppClient) -> None:
    rule = _rule(client, CART_RULE)
    voucher = _voucher(client, "RULED")
    made = _assign(
        client, rule["id"], {"related_object_type": "voucher", "related_object_id": voucher["id"]}
    )
    assert made.status_code == 200, made.text
    assignment = made.json()
    assert_matches(assignment, "validation-rules", "ValidationRuleAssignment")
    assert (assignment["rule_id"], assignment["related_object_id"]) == (rule["id"], voucher["id"])
    twice = _assign(client, rule["id"], {"voucher": "RULED"})  # the shorthand, by code
    assert (twice.status_code, twice.json()["key"]) == (409, "duplicate_found")
    forced = _assign(client, rule["id"], {"voucher": "RULED"}, force="true")
    assert forced.status_code == 200 and forced.json()["id"] != assignment["id"]
    listed = client.get(f"/v1/validation-rules/{rule['id']}/assignments").json()
    assert [a["id"] for a in listed["data"]] == [forced.json()["id"]]
    assert client.get(f"/v1/validation-rules/{rule['id']}").json()["assignments_count"] == 1
    unknown = _assign(client, rule["id"], {"voucher": "NOPE"})
    assert (unknown.status_code, unknown.json()["resource_type"]) == (404, "voucher")
    unbuilt = _assign(
        client, rule["id"], {"related_object_type": "earning_rule", "related_object_id": "ern_1"}
    )
    assert unbuilt.status_code == 400
    in_use = client.delete(f"/v1/validation-rules/{rule['id']}")
    assert (in_use.status_code, in_use.json()["key"]) == (400, "resource_in_use")
    path = f"/v1/validation-rules/{rule['id']}/assignments/{forced.json()['id']}"
    assert client.delete(path).status_code == 204
    assert client.delete(path).status_code == 404
    assert client.delete(f"/v1/validation-rules/{rule['id']}").status_code == 204


def test_an_assigned_rule_is_not_deleted_and_says_why(client: AppClient) -> None:
    rule = _rule(client, CART_RULE)
    _voucher(client, "IN-USE")
    assert _assign(client, rule["id"], {"voucher": "IN-USE"}).status_code == 200
    refused = client.delete(f"/v1/validation-rules/{rule['id']}")
    assert (refused.status_code, refused.json()["key"]) == (400, "resource_in_use"), refused.text
    assert client.get(f"/v1/validation-rules/{rule['id']}").status_code == 200


def _wait_for_a_lock_wait(client: AppClient) -> None:
    """Until a session of this database waits for a row lock (PostgreSQL)."""
    waiting = sa.text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with client.db.transaction(write=False) as conn:
            if conn.execute(waiting).scalar_one():
                return
        time.sleep(0.01)
    raise AssertionError("the delete never waited for the assignment's transaction")


# PostgreSQL only: SQLite writers take turns, so a delete cannot overlap an assignment.
@pytest.mark.parametrize("migrated_db_url", ["postgresql"], indirect=True)
def test_a_delete_racing_an_assignment_is_refused_not_a_server_error(client: AppClient) -> None:
    rule = _rule(client, CART_RULE)
    _voucher(client, "RACED")
    project_id = client.project.project_id
    outcome: list[BaseException | None] = []

    def delete() -> None:
        try:
            with client.db.transaction(write=True) as conn:
                service.delete(conn, project_id=project_id, rule_id=rule["id"])
        except BaseException as exc:  # the outcome is judged below, on the test's thread
            outcome.append(exc)
        else:
            outcome.append(None)

    # The assignment is written and not yet committed when the delete begins.
    with client.db.transaction(write=True) as conn:
        service.assign(
            conn,
            project_id=project_id,
            rule_id=rule["id"],
            body=AssignmentCreate(voucher="RACED"),
            force=False,
            now=datetime.now(UTC),
        )
        deleting = threading.Thread(target=delete)
        deleting.start()
        _wait_for_a_lock_wait(client)
    deleting.join(10)
    [error] = outcome
    assert isinstance(error, TallyError), repr(error)
    assert (error.status, error.key) == (400, "resource_in_use")
    assert client.get(f"/v1/validation-rules/{rule['id']}").json()["assignments_count"] == 1


def test_a_voucher_applies_only_to_orders_its_rules_admit(client: AppClient) -> None:
    rule = _rule(client, CART_RULE)
    _voucher(client, "BIGCART")
    _assign(client, rule["id"], {"voucher": "BIGCART"})
    small = _validate(client, "BIGCART", {"items": [LINES[0]]})
    (refused,) = small["redeemables"]
    assert (small["valid"], refused["status"]) == (False, "INAPPLICABLE")
    error = refused["result"]["error"]
    assert error["key"] == "redemption_rules_violated"
    assert error["message"] == "redemption does not match validation rules"
    assert error["details"] == (
        f"Voucher cannot be redeemed because of violated validation rules: {rule['id']}"
    )
    assert error["error"] == {"message": "Spend $100 on 2+ items"}
    big = _validate(client, "BIGCART", {"items": LINES})
    assert big["valid"] and big["redeemables"][0]["status"] == "APPLICABLE"
    # A redemption refused by a rule records its failure and takes no use of the voucher
    # (the order it sends is saved without discounts, BEHAVIOR 8.7).
    response = client.post(
        "/v1/redemptions",
        json={
            "redeemables": [{"object": "voucher", "id": "BIGCART"}],
            "order": {"items": [LINES[0]]},
        },
    )
    assert (response.status_code, response.json()["key"]) == (400, "redemption_rules_violated")
    assert response.json()["resource_id"].startswith("rf_")
    assert client.get("/v1/vouchers/BIGCART").json()["redemption"]["redeemed_quantity"] == 0
    ok = client.post(
        "/v1/redemptions",
        json={"redeemables": [{"object": "voucher", "id": "BIGCART"}], "order": {"items": LINES}},
    )
    assert ok.status_code == 200, ok.text


def test_campaign_rules_bind_its_vouchers_and_products_are_matched(client: AppClient) -> None:
    rule = _rule(client, MUG_RULE)
    campaign = client.post(
        "/v1/campaigns",
        json={
            "name": "mugs",
            "campaign_type": "DISCOUNT_COUPONS",
            "type": "STATIC",
            "voucher": {
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "AMOUNT", "amount_off": 100},
            },
        },
    ).json()
    code = client.post(f"/v1/campaigns/{campaign['id']}/vouchers/MUGS1").json()["code"]
    assert _assign(client, rule["id"], {"campaign": campaign["id"]}).status_code == 200
    assert _validate(client, code, {"items": LINES})["valid"]
    one_mug = [{**LINES[0], "quantity": 1}, LINES[1]]
    assert not _validate(client, code, {"items": one_mug})["valid"]
    assert not _validate(client, code, {"items": [LINES[1]]})["valid"]


def test_stacked_rules_see_the_order_the_earlier_discounts_left(client: AppClient) -> None:
    # 10% off 10,500 leaves 9,450: a second voucher for orders of 10,000 or more no longer fits.
    client.post(
        "/v1/vouchers/TENPC",
        json={"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}},
    )
    rule = _rule(
        client,
        {
            "name": "10k",
            "rules": {
                "1": {"name": "order.amount", "conditions": {"$more_than_or_equal": [10000]}}
            },
        },
    )
    _voucher(client, "OVER10K")
    _assign(client, rule["id"], {"voucher": "OVER10K"})
    order = {"amount": 10500}
    alone = _validate(client, "OVER10K", order)
    assert alone["valid"]
    body = {
        "redeemables": [
            {"object": "voucher", "id": "TENPC"},
            {"object": "voucher", "id": "OVER10K"},
        ],
        "order": order,
    }
    stacked = client.post("/v1/validations", json=body).json()
    assert [r["status"] for r in stacked["redeemables"]] == ["APPLICABLE", "INAPPLICABLE"]


def test_purchase_history_counts_paid_orders_in_the_window(client: AppClient) -> None:
    rule = _rule(client, FEW_ORDERS_RULE)
    _voucher(client, "NEWBIE")
    _assign(client, rule["id"], {"voucher": "NEWBIE"})
    customer = {"source_id": "alice"}
    for status in ("PAID", "PAID", "CANCELED", "CREATED"):
        made = client.post(
            "/v1/orders", json={"amount": 1000, "status": status, "customer": customer}
        )
        assert made.status_code == 200
    order = {"amount": 3000, "customer": customer}
    assert _validate(client, "NEWBIE", order, customer=customer)["valid"]  # 2 paid orders
    client.post("/v1/orders", json={"amount": 1000, "status": "FULFILLED", "customer": customer})
    refused = _validate(client, "NEWBIE", order, customer=customer)
    assert not refused["valid"]
    assert refused["redeemables"][0]["result"]["error"]["error"] == {
        "message": "For new customers only"
    }
    # Without a customer there is no history to meet the rule.
    assert not _validate(client, "NEWBIE", {"amount": 3000})["valid"]
    # A customer Tally does not know yet has no orders: the rule admits them.
    assert _validate(client, "NEWBIE", {"amount": 3000}, customer={"source_id": "bob"})["valid"]


def test_a_stored_rule_tally_can_no_longer_read_refuses_not_fails(client: AppClient) -> None:
    """A rule saved before a check existed (here: a date with no UTC form, refused at save
    since) refuses its redeemable; it never becomes a 500 nor a discount given unchecked."""
    import sqlalchemy as sa

    from tally.validation_rules.tables import validation_rules

    rule = _rule(client, CART_RULE)
    _voucher(client, "OLDRULE")
    _assign(client, rule["id"], {"voucher": "OLDRULE"})
    unreadable = {
        "1": {
            "name": "x.customer.orders.count",
            "property": None,
            "conditions": {"$more_than": [0]},
            "rules": {
                "1": {
                    "name": "x.customer.orders.created_at",
                    "property": None,
                    "conditions": {"$after": ["0001-01-01T00:00:00+05:00"]},
                    "rules": {"logic": ""},
                },
                "logic": "1",
            },
        },
        "logic": "1",
    }
    with client.db.transaction(write=True) as conn:
        conn.execute(
            sa.update(validation_rules)
            .where(validation_rules.c.id == rule["id"])
            .values(rules=unreadable)
        )
    refused = _validate(client, "OLDRULE", {"amount": 20000, "items": LINES})
    assert not refused["valid"]
    error = refused["redeemables"][0]["result"]["error"]
    assert error["key"] == "redemption_rules_violated"


def test_every_assignment_of_the_project_is_listed_by_rule_or_object(client: AppClient) -> None:
    cart = _rule(client, CART_RULE)
    mugs = _rule(client, MUG_RULE)
    first = _voucher(client, "FIRST")
    second = _voucher(client, "SECOND")
    made = [
        _assign(client, cart["id"], {"voucher": "FIRST"}).json(),
        _assign(client, mugs["id"], {"voucher": "FIRST"}).json(),
        _assign(client, mugs["id"], {"voucher": "SECOND"}).json(),
    ]
    everything = client.get("/v1/validation-rules-assignments")
    assert everything.status_code == 200
    assert_matches(
        everything.json(), "validation-rules", "ValidationRulesAssignmentsListResponseBody"
    )
    assert everything.json()["total"] == 3
    # Newest first; ids break ties within a millisecond, so compare as sets.
    assert {a["id"] for a in everything.json()["data"]} == {a["id"] for a in made}
    by_rule = client.get("/v1/validation-rules-assignments", params={"rule": mugs["id"]}).json()
    assert {a["related_object_id"] for a in by_rule["data"]} == {first["id"], second["id"]}
    by_object = client.get(
        "/v1/validation-rules-assignments",
        params={"related_object_id": first["id"], "order": "created_at"},
    ).json()
    assert {a["rule_id"] for a in by_object["data"]} == {cart["id"], mugs["id"]}
    both = client.get(
        "/v1/validation-rules-assignments",
        params={"related_object_id": second["id"], "rule": cart["id"]},
    ).json()
    assert both["total"] == 0
    pages = [
        client.get("/v1/validation-rules-assignments", params={"limit": 1, "page": n}).json()
        for n in (1, 2, 3, 4)
    ]
    assert [len(p["data"]) for p in pages] == [1, 1, 1, 0]
    assert {p["data"][0]["id"] for p in pages[:3]} == {a["id"] for a in made}
    # Another project sees none of them.
    other = client.as_project(client.new_project("other"))
    assert other.get("/v1/validation-rules-assignments").json()["total"] == 0


def _gold_only(client: AppClient, code: str) -> None:
    rule = _rule(
        client,
        {
            "name": "gold only",
            "rules": {
                "1": {
                    "name": "customer.metadata",
                    "property": "tier",
                    "conditions": {"$is": ["gold"]},
                },
                "logic": "1",
            },
        },
    )
    _voucher(client, code, validation_rules=[rule["id"]])


def _redeem(client: AppClient, code: str, **body: Any) -> Any:
    return client.post(
        "/v1/redemptions", json={"redeemables": [{"object": "voucher", "id": code}], **body}
    )


def test_customer_rules_read_the_customer_the_order_names(client: AppClient) -> None:
    """With no top-level customer, the customer of the order object is the one the rules
    read: it becomes the order's (BEHAVIOR 8.5), new order or stored."""
    _gold_only(client, "GOLD")
    client.post("/v1/customers", json={"source_id": "carol", "metadata": {"tier": "gold"}})
    client.post("/v1/customers", json={"source_id": "sam", "metadata": {"tier": "silver"}})
    carol = {"amount": 1000, "customer": {"source_id": "carol"}}
    assert _validate(client, "GOLD", carol)["valid"] is True
    sam = {"amount": 1000, "customer": {"source_id": "sam"}}
    assert _validate(client, "GOLD", sam)["valid"] is False

    redeemed = _redeem(client, "GOLD", order={"source_id": "o-carol", **carol})
    assert redeemed.status_code == 200, redeemed.text
    carol_id = client.get("/v1/customers/carol").json()["id"]
    assert redeemed.json()["order"]["customer_id"] == carol_id
    # The stored order's customer, when the request names none.
    assert _validate(client, "GOLD", {"source_id": "o-carol"})["valid"] is True
    # The redeeming customer before the order's.
    both = {**sam, "source_id": "o-2"}
    assert _validate(client, "GOLD", both, customer={"source_id": "carol"})["valid"] is True
    assert _validate(client, "GOLD", carol, customer={"source_id": "sam"})["valid"] is False


def test_customer_rules_read_the_metadata_the_request_leaves(client: AppClient) -> None:
    """Metadata a request sends replaces the stored (BEHAVIOR 14.1): a stored customer is
    judged as the redemption leaves it, as a new one is, and a validation as that
    redemption would be."""
    _gold_only(client, "GOLD")
    client.post("/v1/customers", json={"source_id": "bob", "metadata": {"tier": "silver"}})
    client.post("/v1/customers", json={"source_id": "carol", "metadata": {"tier": "gold"}})
    order = {"amount": 1000}
    gold, silver = {"tier": "gold"}, {"tier": "silver"}
    for source_id, sent, valid in [
        ("alice", gold, True),  # new
        ("bob", gold, True),  # stored silver, made gold
        ("carol", silver, False),  # stored gold, made silver
        ("carol", None, True),  # nothing sent: the stored metadata
        ("bob", None, False),
    ]:
        customer: dict[str, Any] = {"source_id": source_id}
        if sent is not None:
            customer["metadata"] = sent
        result = _validate(client, "GOLD", order, customer=customer)
        assert result["valid"] is valid, (source_id, sent)
    refused = _redeem(
        client, "GOLD", order=order, customer={"source_id": "carol", "metadata": silver}
    )
    assert refused.status_code == 400
    assert refused.json()["key"] == "redemption_rules_violated"
    assert client.get("/v1/customers/carol").json()["metadata"] == gold  # nothing written
    redeemed = _redeem(client, "GOLD", order=order, customer={"source_id": "bob", "metadata": gold})
    assert redeemed.status_code == 200, redeemed.text
    assert client.get("/v1/customers/bob").json()["metadata"] == gold
    # The top-level customer and the order's are one: the order's fields are stored last.
    both = {"source_id": "bob", "metadata": gold}
    in_order = {**order, "customer": {"source_id": "bob", "metadata": silver}}
    assert _validate(client, "GOLD", in_order, customer=both)["valid"] is False
    client.post("/v1/customers", json={"source_id": "bob", "metadata": silver})
    in_order["customer"] = {"source_id": "bob", "metadata": gold}
    assert _validate(client, "GOLD", in_order, customer={"source_id": "bob"})["valid"] is True


def test_initial_amount_rules_read_the_order_s_initial_amount(client: AppClient) -> None:
    """order.initial_amount is the order's: the lines as sent, before any discount or
    effect, also after an earlier redemption added units (BEHAVIOR 5.3, 16.4)."""
    rule = _rule(
        client,
        {
            "name": "small carts",
            "rules": {
                "1": {
                    "name": "order.initial_amount",
                    "conditions": {"$less_than_or_equal": [5000]},
                },
                "logic": "1",
            },
        },
    )
    _voucher(client, "SMALL", validation_rules=[rule["id"]])
    tee = client.post("/v1/products", json={"source_id": "tee", "price": 1000}).json()
    unit = {"type": "UNIT", "unit_off": 1, "unit_type": tee["id"], "effect": "ADD_NEW_ITEMS"}
    response = client.post("/v1/vouchers/TEE", json={"type": "DISCOUNT_VOUCHER", "discount": unit})
    assert response.status_code == 200, response.text
    cart = {"source_id": "o-units", "items": [{"source_id": "mug", "price": 5000, "quantity": 1}]}
    redeemed = _redeem(client, "TEE", order=cart)
    assert redeemed.status_code == 200, redeemed.text
    order = redeemed.json()["order"]
    assert (order["amount"], order["initial_amount"]) == (6000, 5000)
    assert _validate(client, "SMALL", {"source_id": "o-units"})["valid"] is True
    # A client amount over lines of lower value: the lines' value is the initial amount.
    lines = {"amount": 9000, "items": [{"source_id": "mug", "price": 5000, "quantity": 1}]}
    assert _validate(client, "SMALL", lines)["valid"] is True
    assert _validate(client, "SMALL", {"amount": 9000})["valid"] is False
