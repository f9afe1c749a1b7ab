"""Validations on SQLite answer their lookups of vouchers, products and validation rules from
the kept reader's cache (tally.db.read_cache). What they read again is what the database
holds, and every change is seen by the next validation: whether it came from this
process's requests or from another connection."""

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from support.inprocess import AppClient, open_app_client


@pytest.fixture
def sqlite_client(tmp_path: Path, migrated_templates: dict[str, str]) -> Iterator[AppClient]:
    target = tmp_path / "tally.db"
    shutil.copyfile(migrated_templates["sqlite"], target)
    with open_app_client(f"sqlite:///{target}") as client:
        yield client


def _post(client: AppClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def _put(client: AppClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.put(path, json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


LINES = [
    {"product": {"source_id": "mug"}, "quantity": 2},
    {"product": {"source_id": "cap"}, "quantity": 1},
]


def _catalogue(client: AppClient) -> dict[str, dict[str, Any]]:
    products = {
        source_id: _post(
            client,
            "/v1/products",
            {
                "source_id": source_id,
                "name": source_id,
                "price": price,
                "metadata": {"colours": ["red", "blue"], "shelf": {"row": 2}},
            },
        )
        for source_id, price in (("mug", 1000), ("cap", 2000))
    }
    _post(
        client,
        "/v1/vouchers/MUGS",
        {
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ITEMS"},
            "metadata": {"tags": ["a", "b"]},
        },
    )
    rule = _post(
        client,
        "/v1/validation-rules",
        {
            "name": "mugs only",
            "applicable_to": {"included": [{"object": "product", "source_id": "mug"}]},
        },
    )
    _post(client, f"/v1/validation-rules/{rule['id']}/assignments", {"voucher": "MUGS"})
    _post(
        client,
        "/v1/vouchers/SPLIT",
        {
            "type": "DISCOUNT_VOUCHER",
            "discount": {
                "type": "AMOUNT",
                "amount_off": 300,
                "effect": "APPLY_TO_ITEMS_PROPORTIONALLY",
            },
            "redemption": {"quantity": 1},
        },
    )
    _post(
        client,
        "/v1/vouchers/FREECAP",
        {
            "type": "DISCOUNT_VOUCHER",
            "discount": {
                "type": "UNIT",
                "unit_off": 1,
                "unit_type": products["cap"]["id"],
                "effect": "ADD_MISSING_ITEMS",
            },
        },
    )
    return {"rule": rule, **products}


def _validate(client: AppClient, *codes: str) -> dict[str, Any]:
    return _post(
        client,
        "/v1/validations",
        {
            "redeemables": [{"object": "voucher", "id": code} for code in codes],
            "order": {"items": LINES},
        },
    )


def _statuses(result: dict[str, Any]) -> list[str]:
    return [r["status"] for r in result["redeemables"]]


def _runtime_caches(client: AppClient) -> list[Any]:
    caches: list[Any] = client.app.state.runtime.db.read_caches()
    return caches


def _same_answer(result: dict[str, Any]) -> str:
    # Each validation has an id of its own, and so do the lines of an order it does not save.
    text = json.dumps({key: value for key, value in result.items() if key != "id"})
    return re.sub(r'"ordli_[0-9A-Za-z]+"', '"ordli_"', text)


def test_what_validations_read_again_is_what_the_database_holds(
    sqlite_client: AppClient,
) -> None:
    client = sqlite_client
    _catalogue(client)
    first = _validate(client, "MUGS", "SPLIT", "FREECAP")
    assert _statuses(first) == ["APPLICABLE"] * 3
    caches = _runtime_caches(client)
    hits = sum(cache.hits for cache in caches)
    for _ in range(3):
        assert _same_answer(_validate(client, "MUGS", "SPLIT", "FREECAP")) == _same_answer(first)
    # Vouchers, products and rules: three answers a validation, from the cache.
    assert sum(cache.hits for cache in caches) >= hits + 9
    answers = [answer for cache in caches for answer in cache.answers()]
    assert len(answers) >= 3
    # Nothing that read the shared rows changed them: each is what its statement gives now.
    with client.db.transaction(write=False) as conn:
        for (statement, params), rows in answers:
            assert statement.all(conn, dict(params)) == rows


def _mug_discount(result: dict[str, Any]) -> int:
    order = result["redeemables"][0]["order"]
    amount: int = order["items"][0].get("discount_amount", 0)
    return amount


def test_the_next_validation_sees_every_change(sqlite_client: AppClient) -> None:
    client = sqlite_client
    made = _catalogue(client)
    assert _mug_discount(_validate(client, "MUGS")) == 200  # 10 % of 2 x 1,000
    assert _mug_discount(_validate(client, "MUGS")) == 200

    # A product's price, changed through the API (this process's writer).
    _put(client, f"/v1/products/{made['mug']['id']}", {"price": 1500})
    assert _mug_discount(_validate(client, "MUGS")) == 300

    # The rule: now for caps only, so the mugs line gets nothing.
    _put(
        client,
        f"/v1/validation-rules/{made['rule']['id']}",
        {"applicable_to": {"included": [{"object": "product", "source_id": "cap"}]}},
    )
    assert _mug_discount(_validate(client, "MUGS")) == 0

    # A voucher used up by a redemption.
    assert _statuses(_validate(client, "SPLIT")) == ["APPLICABLE"]
    _post(
        client,
        "/v1/redemptions",
        {"redeemables": [{"object": "voucher", "id": "SPLIT"}], "order": {"items": LINES}},
    )
    assert _statuses(_validate(client, "SPLIT")) == ["INAPPLICABLE"]

    # A voucher switched off by another connection (another process, for SQLite).
    assert _statuses(_validate(client, "FREECAP")) == ["APPLICABLE"]
    with client.db.transaction(write=True) as conn:
        conn.execute(sa.text("UPDATE vouchers SET active = false WHERE code = 'FREECAP'"))
    assert _statuses(_validate(client, "FREECAP")) == ["INAPPLICABLE"]
