"""Purchase history read from day buckets: windows across day and timeframe boundaries on
both engines, statuses and rollbacks counted as BEHAVIOR 6.7 and 16.6 say, and buckets and
summary.orders equal to a recount of the orders after any sequence of writes."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from support.inprocess import AppClient
from tally.clock import iso
from tally.core.order_history import COUNTED_STATUSES, day_of
from tally.customers.tables import customer_order_days, customers
from tally.orders.tables import orders

ALICE = {"source_id": "alice"}


def _post(client: AppClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def _order(client: AppClient, amount: int, status: str, at: datetime | None) -> dict[str, Any]:
    body: dict[str, Any] = {"amount": amount, "status": status, "customer": ALICE}
    if at is not None:
        body["created_at"] = iso(at)
    return _post(client, "/v1/orders", body)


def _history_is(client: AppClient, window: dict[str, Any], count: int, amount: int) -> bool:
    """Whether a voucher whose rule asks for exactly ``count`` orders worth ``amount`` in
    ``window`` validates: the history as the rules engine reads it."""
    nested = {
        "1": {"name": "x.customer.orders.created_at", "conditions": window, "rules": {}},
        "logic": "1",
    }
    rules = {
        "1": {"name": "x.customer.orders.count", "conditions": {"$is": [count]}, "rules": nested},
        "2": {"name": "x.customer.orders.amount", "conditions": {"$is": [amount]}, "rules": nested},
        "logic": "1 and 2",
    }
    code = f"H{random.getrandbits(40)}"
    _post(
        client,
        f"/v1/vouchers/{code}",
        {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}},
    )
    rule = _post(client, "/v1/validation-rules", {"name": code, "rules": rules})
    _post(client, f"/v1/validation-rules/{rule['id']}/assignments", {"voucher": code})
    body = {
        "redeemables": [{"object": "voucher", "id": code}],
        "order": {"amount": 100, "customer": ALICE},
        "customer": ALICE,
    }
    return bool(_post(client, "/v1/validations", body)["valid"])


def test_windows_count_paid_orders_across_day_and_timeframe_boundaries(
    client: AppClient,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    midnight = datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC)
    _order(client, 1, "PAID", now - timedelta(days=40))
    _order(client, 2, "PAID", now - timedelta(days=31))
    _order(client, 4, "PAID", now - timedelta(days=29))
    _order(client, 8, "CANCELED", now - timedelta(days=29))
    _order(client, 16, "FULFILLED", midnight - timedelta(days=2))  # exactly a midnight
    _order(client, 32, "CREATED", now - timedelta(days=1))
    _order(client, 64, "PAID", midnight - timedelta(days=2, milliseconds=1))  # a tick before

    # A redemption makes its order PAID; a rollback cancels it, or keeps the status it names.
    _post(
        client,
        "/v1/vouchers/ROLL",
        {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}},
    )
    redeemed = []
    for amount in (1000, 3000):
        body = {
            "redeemables": [{"object": "voucher", "id": "ROLL"}],
            "order": {"amount": amount, "customer": ALICE},
            "customer": ALICE,
        }
        redeemed.append(_post(client, "/v1/redemptions", body)["redemptions"][0]["id"])
    # Both counted while redeemed: 900 + 2900 at their total amounts.
    assert _history_is(client, {"$less_than_ago": [1]}, 2, 3800)
    _post(client, f"/v1/redemptions/{redeemed[0]}/rollback", {})
    _post(client, f"/v1/redemptions/{redeemed[1]}/rollback", {"order": {"status": "PAID"}})
    # The canceled one is gone; the kept one counts at its amount without the discount.
    assert _history_is(client, {"$less_than_ago": [1]}, 1, 3000)

    everything = 1 + 2 + 4 + 16 + 64 + 3000
    assert _history_is(client, {"$less_than_ago": [100000]}, 6, everything)
    assert _history_is(client, {"$less_than_ago": [30]}, 4, 4 + 16 + 64 + 3000)
    assert _history_is(client, {"$more_than_ago": [30]}, 2, 1 + 2)
    assert _history_is(client, {"$more_than_ago": [1]}, 5, 1 + 2 + 4 + 16 + 64)
    # Absolute ends are strict: an order at the very moment is outside.
    two_days = iso(midnight - timedelta(days=2))
    assert _history_is(client, {"$after": [two_days]}, 1, 3000)
    assert _history_is(client, {"$before": [two_days]}, 4, 1 + 2 + 4 + 64)
    assert _history_is(
        client,
        {"$after": [iso(midnight - timedelta(days=2, milliseconds=2))], "$before": [two_days]},
        1,
        64,
    )
    # Not any other count: the check can fail.
    assert not _history_is(client, {"$less_than_ago": [30]}, 5, 4 + 16 + 64 + 3000)


def _recount(
    client: AppClient,
) -> tuple[dict[Any, tuple[int, int]], dict[str, tuple[int, int, int, Any]]]:
    with client.db.transaction(write=False) as conn:
        rows = (
            conn.execute(
                sa.select(orders).where(
                    orders.c.status.in_(COUNTED_STATUSES), orders.c.customer_id.is_not(None)
                )
            )
            .mappings()
            .all()
        )
        people = conn.execute(sa.select(customers)).mappings().all()
    days: Counter[Any] = Counter()
    amounts: Counter[Any] = Counter()
    for row in rows:
        key = (row["customer_id"], day_of(row["created_at"]))
        days[key] += 1
        amounts[key] += row["total_amount"]
    buckets = {key: (days[key], amounts[key]) for key in days}
    summaries = {}
    for person in people:
        mine = sorted(
            (r for r in rows if r["customer_id"] == person["id"]),
            key=lambda r: (r["created_at"], r["id"]),
        )
        summaries[person["id"]] = (
            len(mine),
            sum(r["total_amount"] for r in mine),
            mine[-1]["total_amount"] if mine else 0,
            mine[-1]["created_at"] if mine else None,
        )
    return buckets, summaries


def _stored(
    client: AppClient,
) -> tuple[dict[Any, tuple[int, int]], dict[str, tuple[int, int, int, Any]]]:
    with client.db.transaction(write=False) as conn:
        days = conn.execute(sa.select(customer_order_days)).mappings().all()
        people = conn.execute(sa.select(customers)).mappings().all()
    buckets = {
        (d["customer_id"], d["day"]): (d["orders_count"], d["orders_amount"])
        for d in days
        if d["orders_count"] or d["orders_amount"]
    }
    summaries = {
        p["id"]: (
            p["orders_total_count"],
            p["orders_total_amount"],
            p["orders_last_amount"],
            p["orders_last_date"],
        )
        for p in people
    }
    return buckets, summaries


def test_buckets_and_summaries_equal_a_recount_after_any_writes(client: AppClient) -> None:
    """A seeded random walk of order creates (some backdated), upserts that move status,
    amount and customer, redemptions, rollbacks and customer deletions."""
    rng = random.Random(20261123)
    now = datetime.now(UTC).replace(microsecond=0)
    _post(
        client,
        "/v1/vouchers/TENOFF",
        {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}},
    )
    people = ["ann", "ben", "cat"]
    made: list[str] = []
    redemptions: list[str] = []
    for step in range(70):
        action = rng.choice(
            ["create", "create", "update", "update", "redeem", "rollback", "delete"]
        )
        person = {"source_id": rng.choice(people)}
        status = rng.choice(["CREATED", "PAID", "CANCELED", "FULFILLED"])
        if action == "create" or not made:
            body: dict[str, Any] = {"amount": rng.randrange(1, 10**6), "status": status}
            if rng.random() < 0.8:
                body["customer"] = person
            if rng.random() < 0.6:
                body["created_at"] = iso(now - timedelta(minutes=rng.randrange(0, 60 * 24 * 5)))
            made.append(_post(client, "/v1/orders", body)["id"])
        elif action == "update":
            target = rng.choice(made)
            change: dict[str, Any] = {"status": status}
            if rng.random() < 0.5:
                change["customer"] = person
            if rng.random() < 0.5:
                change["amount"] = rng.randrange(1, 10**6)
            response = client.put(f"/v1/orders/{target}", json=change)
            assert response.status_code == 200, response.text
        elif action == "redeem":
            body = {
                "redeemables": [{"object": "voucher", "id": "TENOFF"}],
                "order": {"amount": rng.randrange(100, 10**5), "customer": person},
                "customer": person,
            }
            if rng.random() < 0.5:
                body["order"] = {"id": rng.choice(made)}
            response = client.post("/v1/redemptions", json=body)
            if response.status_code == 200:
                redemptions.append(response.json()["redemptions"][0]["id"])
                made.append(response.json()["order"]["id"])
        elif action == "rollback" and redemptions:
            target = redemptions.pop(rng.randrange(len(redemptions)))
            keep = {"order": {"status": "PAID"}} if rng.random() < 0.5 else {}
            response = client.post(f"/v1/redemptions/{target}/rollback", json=keep)
            assert response.status_code == 200, response.text
        elif action == "delete":
            ref = rng.choice(people)
            response = client.delete(f"/v1/customers/{ref}")
            assert response.status_code in (204, 404), response.text
        assert _stored(client) == _recount(client), f"after step {step}: {action}"


def test_windows_at_the_end_of_the_calendar_answer(client: AppClient) -> None:
    """A window bound near year 9999 saves, and validations read it without an error."""
    _order(client, 1, "PAID", None)
    for window in (
        {"$before": ["9999-12-31T12:00:00Z"]},
        {"$after": ["9999-12-31T23:59:59.999Z"]},
        {"$after": ["9999-12-30T12:00:00Z"]},
    ):
        count = 1 if "$before" in window else 0
        assert _history_is(client, window, count, count)
