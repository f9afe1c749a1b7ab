"""A project's stacking rules: PARTIAL application mode in validation and redemption, the
redeemable limits, and the CLI that sets them (BEHAVIOR 10.4, 10.8)."""

import json
import subprocess
from pathlib import Path
from typing import Any

from support.db import snapshot
from support.inprocess import AppClient
from support.server import run_tally, tally_env, tally_executable
from support.spec import assert_matches
from tally.projects import repository as projects
from tally.validations import stacking

from .test_redemptions_api import redeem, voucher, vouchers


def set_rules(client: AppClient, **rules: Any) -> None:
    with client.db.transaction(write=True) as conn:
        projects.set_stacking_rules(conn, client.project.project_id, rules)
    stacking.forget(client.project.project_id)


def test_partial_validation_lists_the_refused_apart(client: AppClient) -> None:
    set_rules(client, redeemables_application_mode="PARTIAL")
    voucher(client, "TEN", {"type": "AMOUNT", "amount_off": 10})
    voucher(client, "OFF", {"type": "AMOUNT", "amount_off": 5}, active=False)
    voucher(client, "TWENTY", {"type": "AMOUNT", "amount_off": 20})
    response = client.post(
        "/v1/validations",
        json={"redeemables": vouchers("TEN", "NOPE", "OFF", "TWENTY"), "order": {"amount": 100}},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert_matches(result, file="validations", schema="ValidationsValidateResponseBody")
    assert result["valid"] is True
    assert [r["id"] for r in result["redeemables"]] == ["TEN", "TWENTY"]
    assert [r["id"] for r in result["inapplicable_redeemables"]] == ["NOPE", "OFF"]
    assert result["skipped_redeemables"] == []
    assert result["order"]["discount_amount"] == 30
    assert result["stacking_rules"]["redeemables_application_mode"] == "PARTIAL"


def test_partial_redemption_redeems_what_applies(client: AppClient) -> None:
    set_rules(client, redeemables_application_mode="PARTIAL", applicable_redeemables_limit=2)
    for code in ("A", "B", "C"):
        voucher(client, code, {"type": "AMOUNT", "amount_off": 10})
    result = redeem(
        client, {"redeemables": vouchers("A", "NOPE", "B", "C"), "order": {"amount": 100}}
    )
    assert [r["voucher"]["code"] for r in result["redemptions"]] == ["A", "B"]
    assert [r["id"] for r in result["inapplicable_redeemables"]] == ["NOPE"]
    skipped = result["skipped_redeemables"]
    assert [(r["id"], r["result"]["details"]["key"]) for r in skipped] == [
        ("C", "applicable_redeemables_limit_exceeded")
    ]
    assert result["order"]["discount_amount"] == 20
    assert client.get("/v1/vouchers/C").json()["redemption"]["redeemed_quantity"] == 0

    # Nothing applicable: refused as in ALL mode. The order the payload sends is saved
    # without discounts (BEHAVIOR 8.7); the orders already stored stay as they were.
    before = snapshot(client.db)
    response = client.post(
        "/v1/redemptions", json={"redeemables": vouchers("NOPE"), "order": {"amount": 100}}
    )
    assert (response.status_code, response.json()["key"]) == (400, "not_found")
    after = snapshot(client.db)
    assert all(row in after["orders"] for row in before["orders"])
    assert len(after["orders"]) == len(before["orders"]) + 1
    failed = client.get(f"/v1/redemptions/{response.json()['resource_id']}").json()
    saved = client.get(f"/v1/orders/{failed['order']['id']}").json()
    assert (saved["status"], saved["amount"], saved["discount_amount"]) == ("CREATED", 100, 0)
    assert client.get("/v1/vouchers/A").json()["redemption"]["redeemed_quantity"] == 1


def test_the_redeemables_limit_caps_a_request(client: AppClient) -> None:
    set_rules(client, redeemables_limit=2, applicable_redeemables_limit=1)
    response = client.post("/v1/validations", json={"redeemables": vouchers("A", "B", "C")})
    assert (response.status_code, response.json()["key"]) == (400, "invalid_payload")
    assert "redeemables_limit" in response.json()["details"]


def test_the_cli_sets_and_resets_the_rules(migrated_db_url: str, tmp_path: Path) -> None:
    run_tally(["projects", "create", "shop"], db_url=migrated_db_url, cwd=tmp_path)
    shown = run_tally(
        ["projects", "stacking", "shop", "--application-mode", "PARTIAL"],
        db_url=migrated_db_url,
        cwd=tmp_path,
    )
    rules = json.loads(shown.stdout)
    assert rules["redeemables_application_mode"] == "PARTIAL"
    assert rules["applicable_redeemables_limit"] == 5
    bad = subprocess.run(
        [str(tally_executable()), "projects", "stacking", "shop", "--redeemables-limit", "31"],
        cwd=tmp_path,
        env=tally_env(migrated_db_url),
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "redeemables_limit" in bad.stderr
    kept = run_tally(["projects", "stacking", "shop"], db_url=migrated_db_url, cwd=tmp_path)
    assert json.loads(kept.stdout)["redeemables_application_mode"] == "PARTIAL"
    reset = run_tally(
        ["projects", "stacking", "shop", "--reset"], db_url=migrated_db_url, cwd=tmp_path
    )
    assert json.loads(reset.stdout)["redeemables_application_mode"] == "ALL"
