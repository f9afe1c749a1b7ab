"""summary.redemptions (BEHAVIOR 14.5): every redemption and rollback recorded for a
customer moves its counters, in the transaction that records it. One count per redeemable
redeemed or given back (a stack's children, never its parent); a refused redemption or
rollback counts once; total_redeemed and total_rolled_back are the sums of their pairs."""

from typing import Any

from support.inprocess import AppClient
from support.spec import assert_matches

LINES = [
    {"source_id": "a", "price": 2000, "quantity": 1},
    {"source_id": "b", "price": 700, "quantity": 1},
]


def voucher(client: AppClient, code: str, **extra: Any) -> None:
    body = {
        "type": "DISCOUNT_VOUCHER",
        "discount": {"type": "AMOUNT", "amount_off": 100},
        **extra,
    }
    response = client.post(f"/v1/vouchers/{code}", json=body)
    assert response.status_code == 200, response.text


def redeem(client: AppClient, codes: list[str], **body: Any) -> Any:
    redeemables = [{"object": "voucher", "id": code} for code in codes]
    return client.post("/v1/redemptions", json={"redeemables": redeemables, **body})


def counts(client: AppClient, ref: str) -> dict[str, int]:
    """The customer's summary.redemptions without gift and loyalty_card (not built)."""
    response = client.get(f"/v1/customers/{ref}")
    assert response.status_code == 200, response.text
    data = response.json()
    assert_matches(data, file="customers", schema="CustomersGetResponseBody")
    found = dict(data["summary"]["redemptions"])
    assert found.pop("gift") == {"redeemed_amount": 0, "amount_to_go": 0}
    assert found.pop("loyalty_card") == {"redeemed_points": 0, "points_to_go": 0}
    return found


def expected(
    succeeded: int = 0, failed: int = 0, rollback_succeeded: int = 0, rollback_failed: int = 0
) -> dict[str, int]:
    return {
        "total_redeemed": succeeded + failed,
        "total_failed": failed,
        "total_succeeded": succeeded,
        "total_rolled_back": rollback_succeeded + rollback_failed,
        "total_rollback_failed": rollback_failed,
        "total_rollback_succeeded": rollback_succeeded,
    }


ALICE = {"source_id": "alice"}


def test_a_lone_redemption_that_succeeds_counts_once(client: AppClient) -> None:
    voucher(client, "ONE")
    done = redeem(client, ["ONE"], order={"items": LINES}, customer=ALICE)
    assert done.status_code == 200, done.text
    assert counts(client, "alice") == expected(succeeded=1)


def test_a_refused_redemption_counts_once_as_failed(client: AppClient) -> None:
    voucher(client, "ONE")
    voucher(client, "OFF", active=False)
    assert client.post("/v1/customers", json=ALICE).status_code == 200
    refused = redeem(client, ["OFF"], order={"amount": 1000}, customer=ALICE)
    assert refused.status_code == 400 and refused.json()["key"] == "voucher_disabled"
    assert counts(client, "alice") == expected(failed=1)
    # A stack refused as a whole records one failed redemption: one count too.
    refused = redeem(client, ["ONE", "OFF"], order={"amount": 1000}, customer=ALICE)
    assert refused.status_code == 400, refused.text
    assert counts(client, "alice") == expected(failed=2)


def test_a_stacked_redemption_counts_each_redeemable(client: AppClient) -> None:
    for code in ("TWO", "THREE", "FOUR"):
        voucher(client, code)
    stacked = redeem(client, ["TWO", "THREE", "FOUR"], order={"items": LINES}, customer=ALICE)
    assert stacked.status_code == 200, stacked.text
    assert len(stacked.json()["redemptions"]) == 3
    # Three redemptions of vouchers; the parent redeems nothing itself.
    assert counts(client, "alice") == expected(succeeded=3)


def test_a_rollback_counts_each_redemption_given_back(client: AppClient) -> None:
    for code in ("ONE", "TWO", "THREE"):
        voucher(client, code)
    lone = redeem(client, ["ONE"], order={"amount": 1000}, customer=ALICE).json()
    stacked = redeem(client, ["TWO", "THREE"], order={"amount": 1000}, customer=ALICE).json()
    rolled = client.post(f"/v1/redemptions/{lone['redemptions'][0]['id']}/rollback")
    assert rolled.status_code == 200, rolled.text
    assert counts(client, "alice") == expected(succeeded=3, rollback_succeeded=1)
    # The stack rolled back whole: its two children given back.
    rolled = client.post(f"/v1/redemptions/{stacked['parent_redemption']['id']}/rollbacks")
    assert rolled.status_code == 200, rolled.text
    assert len(rolled.json()["rollbacks"]) == 2
    assert counts(client, "alice") == expected(succeeded=3, rollback_succeeded=3)


def test_a_refused_rollback_counts_once_as_failed(client: AppClient) -> None:
    for code in ("ONE", "TWO", "THREE"):
        voucher(client, code)
    lone = redeem(client, ["ONE"], order={"amount": 1000}, customer=ALICE).json()
    stacked = redeem(client, ["TWO", "THREE"], order={"amount": 1000}, customer=ALICE).json()
    lone_url = f"/v1/redemptions/{lone['redemptions'][0]['id']}/rollback"
    stack_url = f"/v1/redemptions/{stacked['parent_redemption']['id']}/rollbacks"
    for url in (lone_url, stack_url):
        assert client.post(url).status_code == 200
    before = expected(succeeded=3, rollback_succeeded=3)
    assert counts(client, "alice") == before
    for url in (lone_url, stack_url):
        again = client.post(url)
        assert again.status_code == 400 and again.json()["key"] == "already_rolled_back"
    # One failed rollback recorded each time, the stack's too.
    assert counts(client, "alice") == expected(succeeded=3, rollback_succeeded=3, rollback_failed=2)
    # Requests refused before anything is recorded (a child's id) count nothing.
    child_id = stacked["redemptions"][0]["id"]
    assert client.post(f"/v1/redemptions/{child_id}/rollback").status_code == 400
    assert counts(client, "alice") == expected(succeeded=3, rollback_succeeded=3, rollback_failed=2)
    # The list prints the same stored figures, in the official shape.
    listed = client.get("/v1/customers")
    assert listed.status_code == 200
    assert_matches(listed.json(), file="customers", schema="CustomersListResponseBody")
    (only,) = listed.json()["customers"]
    assert only["summary"]["redemptions"]["total_redeemed"] == 3
    assert only["summary"]["redemptions"]["total_rolled_back"] == 5


def test_each_redemption_counts_for_its_own_customer_only(client: AppClient) -> None:
    voucher(client, "ONE")
    voucher(client, "TWO")
    voucher(client, "LAST", redemption={"quantity": 1})
    # The order names the customer; the request does not: the order's customer counts.
    made = client.post(
        "/v1/orders", json={"source_id": "o-bob", "amount": 1000, "customer": {"source_id": "bob"}}
    )
    assert made.status_code == 200, made.text
    assert redeem(client, ["ONE"], order={"source_id": "o-bob"}).status_code == 200
    # Nobody named: nobody counts.
    assert redeem(client, ["TWO"], order={"amount": 1000}).status_code == 200
    assert redeem(client, ["LAST"], order={"amount": 1000}, customer={"source_id": "carol"})
    refused = redeem(client, ["LAST"], order={"amount": 1000}, customer={"source_id": "bob"})
    assert refused.json()["key"] == "quantity_exceeded"
    assert counts(client, "bob") == expected(succeeded=1, failed=1)
    assert counts(client, "carol") == expected(succeeded=1)
